"""Where the service of an index listens, and which service a command belongs to.

Stdlib only, and cheap: the client computes all this on every `recall search` before it knows
whether a service will answer. The socket lives in a folder only its owner can enter (0700:
``$XDG_RUNTIME_DIR/photo-recall``, else the data folder's ``run/``, else a per-user folder in
/tmp), is itself 0600, and is named by a key of everything that decides which index and models
a command uses (``--db``/``--chroma-url``/``--models-dir``, the RECALL_* environment, the
folders the defaults come from, the code's location). A service for another index therefore has
another socket; the service checks the key (and the code version) of every request anyway.
"""
from __future__ import annotations

import os
import stat
import sys
import zlib

APP = "photo-recall"
SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes
# Options that choose the index or the models; their values go into the key (absolute paths).
PATH_OPTIONS = ("--db", "--models-dir")
VALUE_OPTIONS = ("--chroma-url",)
# Environment that decides where the defaults point (platformdirs reads these).
LOCATION_ENV = ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "HF_HOME", "HF_HUB_OFFLINE",
                "TRANSFORMERS_OFFLINE")
# What tools/models sets when a process imports it (os.environ.setdefault): a shell's client,
# which has not, and `recall chat`, which has, must name the same service.
IMPORT_DEFAULTS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# Settings of the service itself, not of the index: they do not make another service.
SERVICE_ENV = ("RECALL_SERVICE", "RECALL_SERVICE_IDLE_S", "RECALL_DEBUG")
# What the code's version is made of: a changed file here means a service started before it is old.
CODE_PACKAGES = ("recall", "tools", "agent", "prompts")


def code_root() -> str:
    """The folder holding the ``recall`` package (a checkout or site-packages)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def digest(text: str) -> str:
    """A 64-bit hex digest (two CRC-32s; hashlib would cost a cold client ~15 ms of OpenSSL)."""
    data = text.encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(data):08x}{zlib.crc32(data, 0x9E3779B9):08x}"


def code_version(root: str | None = None) -> str:
    """Names, sizes and times of the code's files: any edit, upgrade or checkout changes it (~2 ms)."""
    root = root or code_root()
    lines = []
    stack = [os.path.join(root, name) for name in CODE_PACKAGES]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__" and not entry.name.startswith("."):
                    stack.append(entry.path)
            elif entry.name.endswith((".py", ".txt", ".json", ".md", ".csv", ".tcss")):
                st = entry.stat()
                lines.append(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}")
    return digest("\n".join(lines))


def option_values(args: list[str]) -> dict[str, str] | None:
    """The index and model options among a command's arguments, or None where the arguments
    are not plain enough to read without the real parser (``--`` or a missing value)."""
    found: dict[str, str] = {}
    options = PATH_OPTIONS + VALUE_OPTIONS
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return None
        name, eq, value = arg.partition("=")
        if name in options:
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            found[name] = os.path.abspath(os.path.expanduser(value)) if name in PATH_OPTIONS else value
        i += 1
    return found


def service_key(args: list[str], env: dict[str, str] | None = None) -> str | None:
    """The key of the service that answers this command, or None (arguments the client cannot
    read: the command runs in-process)."""
    env = os.environ if env is None else env
    options = option_values(args)
    if options is None:
        return None
    parts = [code_root(), f"uid={os.getuid()}"]
    parts += [f"{k}={v}" for k, v in sorted(options.items())]
    env = {**IMPORT_DEFAULTS, **env}
    for name in sorted(env):
        if (name.startswith("RECALL_") and name not in SERVICE_ENV) or name in LOCATION_ENV:
            value = env[name]
            if name in ("RECALL_DB", "RECALL_DATA_DIR", "RECALL_MODELS", "RECALL_MODELS_DIR", "RECALL_CACHE_DIR"):
                value = os.path.abspath(os.path.expanduser(value))
            parts.append(f"{name}={value}")
    return digest("\n".join(parts))


def _data_dir(env: dict[str, str]) -> str:
    if env.get("RECALL_DATA_DIR"):
        return os.path.abspath(os.path.expanduser(env["RECALL_DATA_DIR"]))
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, APP)


def runtime_candidates(env: dict[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    out = []
    if env.get("XDG_RUNTIME_DIR"):
        out.append(os.path.join(env["XDG_RUNTIME_DIR"], APP))
    out.append(os.path.join(_data_dir(env), "run"))
    out.append(os.path.join("/tmp", f"{APP}-{os.getuid()}"))
    return out


def private_folder(path: str, create: bool) -> bool:
    """Is ``path`` a real folder of ours that only we can enter (made so when ``create``)?"""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return False
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return False
        try:
            st = os.lstat(path)
        except OSError:
            return False
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False  # a symlink or someone else's folder: never talk through it
    if st.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError:
            return False
    return True


class Address:
    """The socket, lock and log paths of one service."""

    def __init__(self, folder: str, key: str):
        self.folder = folder
        self.key = key
        self.socket = os.path.join(folder, f"{key}.sock")
        self.lock = os.path.join(folder, f"{key}.lock")  # held by the service for its whole life
        self.log = os.path.join(folder, f"{key}.log")

    def __repr__(self) -> str:
        return f"Address({self.socket!r})"


def address_for(key: str, create: bool = False, env: dict[str, str] | None = None) -> Address | None:
    """The address of the service with ``key``, in the first usable private folder (None: none is)."""
    for folder in runtime_candidates(env):
        if len(os.path.join(folder, f"{key}.sock")) <= SOCKET_PATH_MAX and private_folder(folder, create=create):
            return Address(folder, key)
    return None


def service_setting(env: dict[str, str] | None = None) -> str:
    """RECALL_SERVICE: ``auto`` (default: use the service, start it when absent), ``off``."""
    env = os.environ if env is None else env
    value = (env.get("RECALL_SERVICE") or "auto").strip().lower()
    return "off" if value in ("off", "0", "false", "no", "never") else "auto"


def idle_seconds(env: dict[str, str] | None = None, default: float = 900.0) -> float:
    env = os.environ if env is None else env
    try:
        return max(1.0, float(env.get("RECALL_SERVICE_IDLE_S") or default))
    except ValueError:
        return default


def python_path_for_child(env: dict[str, str]) -> dict[str, str]:
    """The environment a detached service starts with: the same, with this code first on the path."""
    child = dict(env)
    root = code_root()
    paths = [p for p in child.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        child["PYTHONPATH"] = os.pathsep.join([root, *paths])
    child.pop("RECALL_DEBUG", None)
    return child


def interpreter() -> str:
    return sys.executable
