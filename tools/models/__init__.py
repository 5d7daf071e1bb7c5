"""Model adapters. Each one loads from a local folder or says it is missing; none goes online."""
import os

# Nothing may reach a model hub at run time; `recall models pull` opts in explicitly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
