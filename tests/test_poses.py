"""MoveNet keypoints and the pose rules read from them: the real model on real Flickr8k-test photos.

Photos picked from those evals/tags.py --poses tagged and their captions confirmed, checked by
eye with the keypoints drawn: 476759700 a man holding a "FREE HUGS" sign above his head (both
wrists up by the sign's corners), 3729525173 a woman sitting on a doorstep reading.
"""
from __future__ import annotations

import pytest
from PIL import Image

from tests.conftest import FLICKR
from tools.models.clip import ModelMissing
from tools.models.poses import KEYPOINTS, Keypoint, Pose, PoseEstimator, pose_labels, pose_model_status

FREE_HUGS = "476759700_8911f087f8.jpg"
DOORSTEP = "3729525173_7f984ed776.jpg"

usable, where = pose_model_status()
needs_movenet = pytest.mark.skipif(not usable, reason=where)


def photo(name: str) -> Image.Image:
    with Image.open(FLICKR / "images" / name) as image:
        return image.convert("RGB")


def names(labels) -> dict[str, float]:
    return {label.name: label.confidence for label in labels}


@pytest.fixture(scope="module")
def estimator() -> PoseEstimator:
    return PoseEstimator(threads=1)


@needs_movenet
def test_the_main_person_is_found_with_head_above_hips_above_ankles(estimator):
    image = photo(FREE_HUGS)
    pose = estimator.estimate(image)
    assert set(pose.keypoints) == set(KEYPOINTS) and pose.person_score >= 0.5
    k = pose.keypoints
    # In the photo's own pixels (the model's square and the second look's crop undone).
    assert all(0 <= p.x <= image.width and 0 <= p.y <= image.height for p in k.values() if p.score >= 0.3)
    assert k["nose"].y < k["left_hip"].y < k["left_knee"].y and k["nose"].y < k["right_hip"].y
    assert k["left_wrist"].y < k["nose"].y and k["right_wrist"].y < k["nose"].y  # holding the sign up


@needs_movenet
def test_arms_up_for_the_sign_held_high_and_sitting_for_the_doorstep(estimator):
    assert names(estimator.poses(photo(FREE_HUGS))).get("arms up", 0) >= 0.5
    doorstep = names(estimator.poses(photo(DOORSTEP)))
    assert "sitting" in doorstep and "arms up" not in doorstep


def _pose(points: dict[str, tuple[float, float]], score: float = 0.8) -> Pose:
    keypoints = {n: Keypoint(x=points.get(n, (0.0, 0.0))[0], y=points.get(n, (0.0, 0.0))[1],
                             score=score if n in points else 0.0) for n in KEYPOINTS}
    torso = [keypoints[n].score for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    return Pose(keypoints=keypoints, person_score=sum(torso) / 4)


def test_a_horizontal_torso_is_lying_down_and_a_faint_body_is_nothing():
    lying = {"left_shoulder": (40, 100), "right_shoulder": (40, 110), "left_hip": (120, 102), "right_hip": (120, 112)}
    assert set(names(pose_labels(_pose(lying)))) == {"lying down"}
    assert pose_labels(_pose(lying, score=0.15)) == []  # MoveNet always answers; a weak torso is not a person


def test_a_missing_model_is_said_and_refused(tmp_path):
    found, why = pose_model_status(tmp_path)
    assert not found and str(tmp_path) in why and "movenet" in why.lower()
    with pytest.raises(ModelMissing, match="MoveNet"):
        PoseEstimator(override=tmp_path)
