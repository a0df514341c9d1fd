"""Synthetic 2D detections: how a real bottom-up detector errs, applied to ground-truth 3D people.

:func:`simulate_detections` projects ground-truth people ``(T, P, 17, 3)`` into a :class:`~closecap.cameras.Rig`
and corrupts them the way OpenPose does on Shelf (numbers from ``../shared/detector-noise/stats.json``,
copied into the defaults of :class:`NoiseConfig`, each with the stats field it comes from):

* **jitter** in units of the person's image size (stats.json's person size: the bbox diagonal of its joints,
  top of head included, here for a typical pose: ``body_size_ratio x focal / depth x body length``, so a
  compact pose is not detected more precisely), per joint, as the sum of a per-track constant offset, a
  slowly drifting AR(1) part and a white part (matching the measured lag-1/5/10 autocorrelations), with a
  per-track log-normal scale for the heavy tail;
* **peak interference** (:func:`peak_interference`): the heatmap peaks of the same joint type of two people
  close in a view attract each other and, closer than ~2 heatmap sigmas, merge into one peak that only one
  of them gets; geometric, so correlated across views where the joints are close in 3D;
* **missed joints** and **missed people** as two-state Markov chains with the measured persistence,
  their rates raised for joints hidden behind a nearer person (**occlusion**, found by casting the ray
  from each camera centre to each joint through capsules around every person's limbs, torso and head);
* **truncation** at the image border;
* **gross errors** lasting a few frames (Markov): left/right swaps, a joint landing on another
  person (mostly the same joint type of the nearest person), on another joint of its own person, or
  elsewhere, at a rate that rises with the joint's occlusion and with the fraction of its person hidden
  behind others (the visible joints of a partly hidden person are grouped wrongly too); plus whole-limb
  swaps, whole-person mirrors and **merged** detections of a partly hidden person with the one in front;
* **false partial people** on the background or on a person's limbs;
* **confidences** drawn from the measured score distributions of correct and gross joints (a
  persistent latent per joint), so that gross errors are often confident.

Every effect has its own switch (``config.replace(...)`` or :meth:`NoiseConfig.only`). The result is
a :class:`~closecap.poses.Detections2D` and a :class:`SimulationTrace` with the ground-truth bookkeeping
(which detection came from whom, which joints were occluded, swapped, missed...).

One call simulates a whole ``T``-frame scene (that is how training calls it): every random number is drawn
for all frames at once, the two-state Markov chains are composed by a prefix scan over frames, and only
the per view-frame lists (with their false people) are built frame by frame. Render the heatmaps of the
frames with :class:`closecap.heatmaps.HeatmapRenderer` (one reused buffer).

Example:
    >>> from closecap.cameras import ring_rig
    >>> rig = ring_rig(3, radius_m=4.0, width=640, height=480, focal_px=500.0)
    >>> people = np.zeros((2, 1, 17, 3)); people[..., 2] = np.linspace(0.1, 1.7, 17)
    >>> det, trace = simulate_detections(people, rig, NoiseConfig.none(), np.random.default_rng(0))
    >>> det.num_frames, det.num_views, det.keypoints[0][0].shape
    (2, 3, (1, 17, 3))
    >>> bool(np.allclose(det.keypoints[0][0][..., :2], trace.uv_gt_px[0, 0]))
    True
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from enum import IntEnum
from typing import Sequence

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtr

from closecap.cameras import Rig
from closecap.config import Config
from closecap.errors import InputError
from closecap.poses import Detections2D
from closecap.skeleton import COCO17

# ----------------------------------------------------------------------------- joint groups

#: Joint groups of the Shelf statistics (stats.json ``joints.groups``); COCO-17's face points use "head".
GROUPS: tuple[str, ...] = ("head", "shoulders", "elbows", "wrists", "hips", "knees", "ankles")
_GROUP_OF_JOINT = {
    "nose": "head", "left_eye": "head", "right_eye": "head", "left_ear": "head", "right_ear": "head",
    "left_shoulder": "shoulders", "right_shoulder": "shoulders", "left_elbow": "elbows", "right_elbow": "elbows",
    "left_wrist": "wrists", "right_wrist": "wrists", "left_hip": "hips", "right_hip": "hips",
    "left_knee": "knees", "right_knee": "knees", "left_ankle": "ankles", "right_ankle": "ankles",
}
#: ``(J,)`` group index of each COCO-17 joint.
JOINT_GROUP = np.array([GROUPS.index(_GROUP_OF_JOINT[n]) for n in COCO17.joint_names], dtype=np.int64)
JOINT_GROUP.setflags(write=False)


def per_joint(values_by_group: dict[str, float]) -> tuple[float, ...]:
    """A ``(J,)`` tuple of COCO-17 per-joint values from per-group values (keys: :data:`GROUPS`).

    Example:
        >>> per_joint({g: float(i) for i, g in enumerate(GROUPS)})[COCO17.index("left_wrist")]
        3.0
    """
    return tuple(float(values_by_group[_GROUP_OF_JOINT[n]]) for n in COCO17.joint_names)


class JointStatus(IntEnum):
    """What happened to one joint of one detection (:attr:`SimulationTrace.joint_status`)."""

    ABSENT = 0  #: no ground truth (NaN), behind the camera, or the detection does not exist
    OUT_OF_IMAGE = 1  #: truncated at the image border
    MISSED = 2  #: dropped by the detector (score 0)
    CORRECT = 3  #: ground truth + jitter
    SWAP = 4  #: on the same person's mirror joint (per-joint swap, limb swap or person mirror)
    ON_OTHER_PERSON = 5  #: on a joint of another person
    ON_OWN_OTHER_JOINT = 6  #: on a neighbouring joint of its own person
    ELSEWHERE = 7  #: displaced by 0.1-0.3 x person size
    MERGED = 8  #: taken from the other person of a merged detection
    FALSE_POSITIVE = 9  #: a joint of a false (non-existent) person


_GROSS_CATEGORIES = (JointStatus.SWAP, JointStatus.ON_OTHER_PERSON, JointStatus.ON_OWN_OTHER_JOINT, JointStatus.ELSEWHERE)

#: Quantile levels of the score tables of :class:`NoiseConfig` (stats.json confidence.* gives p10..p90;
#: 0 and 1 are the ends: peaks below ~0.15 are absent from the detector output).
SCORE_LEVELS: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)

# ----------------------------------------------------------------------------- defaults fitted to stats.json
# Every number below is copied from ../shared/detector-noise/stats.json (OpenPose BODY_25 on Shelf); the
# field it comes from is named beside it.

# synthesis_recipe.jitter_sigma_frac_of_person_size (= jitter_person_level.<group>.gaussian_sigma_frac.isotropic_from_median_radius)
_JITTER_SIGMA = {"head": 0.0159, "shoulders": 0.0143, "elbows": 0.01229, "wrists": 0.01953, "hips": 0.01842,
                 "knees": 0.01634, "ankles": 0.0132}
# synthesis_recipe.joint_miss_prob.<group>.not_occluded / .occluded_by_nearer_person (person detected)
_MISS = {"head": 0.01778, "shoulders": 0.0229, "elbows": 0.15719, "wrists": 0.21083, "hips": 0.01837,
         "knees": 0.02732, "ankles": 0.03626}
_MISS_OCC = {"head": 0.08108, "shoulders": 0.59639, "elbows": 0.60072, "wrists": 0.63793, "hips": 0.15668,
             "knees": 0.28384, "ankles": 0.33239}
# synthesis_recipe.gross_error_prob.<group> (all joints, occluded or not)
_GROSS = {"head": 0.00595, "shoulders": 0.00583, "elbows": 0.01291, "wrists": 0.03305, "hips": 0.01503,
          "knees": 0.01871, "ankles": 0.02566}


@dataclass(frozen=True)
class NoiseConfig(Config):
    """Detector-noise model; defaults reproduce OpenPose BODY_25 on Shelf (``stats.json``).

    Presets: ``NoiseConfig()`` realistic, :meth:`none` exact projections, :meth:`gaussian` plain pixel
    noise, :meth:`occlusion_heavy` more occlusion failures, :meth:`only` one effect alone. Rates are per
    joint (or person) per view per frame; ``frac`` = fraction of the person's image size (diagonal of
    the bounding box of its projected joints, px). Per-joint tuples follow COCO-17 order.
    """

    # --- jitter
    jitter_sigma_frac: tuple[float, ...] = per_joint(_JITTER_SIGMA)
    """(J,) isotropic jitter sigma, frac (median radial error = 1.1774 sigma; synthesis_recipe.jitter_sigma_frac_of_person_size)."""
    jitter_scale: float = 1.0
    """Multiplier of ``jitter_sigma_frac``; 0 disables the size-scaled jitter."""
    jitter_sigma_px: float = 0.0
    """Extra white isotropic Gaussian jitter, image px, independent of person size (for :meth:`gaussian`)."""
    jitter_track_share: float = 0.32
    """Variance share of a per-track constant offset: lag-1 autocorrelation 0.896 with track offsets vs 0.847 without
    (temporal.autocorrelation.lag_1.bias_removed / per_series_demeaned): (0.896 - 0.847) / (1 - 0.847)."""
    jitter_ar1: float = 0.92
    """Per-frame AR(1) coefficient of the drifting part; with ``jitter_white_share`` fits the demeaned lag-1/5/10
    autocorrelations 0.847 / 0.578 / 0.414 (temporal.autocorrelation.*.per_series_demeaned)."""
    jitter_white_share: float = 0.08
    """Variance share (of the non-constant part) that is white: 1 - 0.847 / 0.92."""
    jitter_tail_sigma: float = 0.4
    """Sigma of the per-track log-normal scale of the jitter; 0.4 gives radial p99 / p50 = 4.06
    (synthesis_recipe.jitter_heavy_tail_ratio_p99_over_p50 = 4.057; a Gaussian gives 2.58)."""
    jitter_body_scale: bool = True
    """True (default): jitter scales with a pose-independent image size of the person, ``body_size_ratio x focal_px /
    depth x`` its body length (ankle-knee-hip-shoulder-ear, median over frames), i.e. the size stats.json's person
    size (bbox diagonal of the 14 Shelf joints, top of head included) has for the poses it was measured on. A
    bottom-up detector (OpenPose, which stats.json measures) sees the whole image at one scale, so a compact pose
    (an embrace) does not make it more precise. False: the bbox diagonal of each frame's projected COCO-17 joints
    (no top of head; ~7 % smaller than stats.json's size, and ~12 % smaller again for people in contact)."""
    body_size_ratio: float = 1.036
    """stats.json person size / (``focal_px / depth x`` body length): median 1.036 (p10 0.90, p90 1.14) over the
    single-person clips of ../shared/mocap in the Shelf rig, top of head estimated as in :func:`head_top`
    (``benchmarks/noise_stats.py --size-ratio``; the salsa pairs give 1.00). Measured on our mocap, not on Shelf's
    poses (stats.json has no depths)."""
    # --- missed joints
    joint_miss_prob: tuple[float, ...] = per_joint(_MISS)
    """(J,) stationary probability a visible, not occluded joint of a detected person is missed
    (synthesis_recipe.joint_miss_prob.<group>.not_occluded)."""
    joint_miss_prob_occluded: tuple[float, ...] = per_joint(_MISS_OCC)
    """(J,) the same for a joint hidden behind another person (synthesis_recipe.joint_miss_prob.<group>.occluded_by_nearer_person)."""
    self_occluded_miss_boost: float = 0.0
    """Extra miss probability of a joint hidden by its own body. The measured not-occluded rates already
    include self-occlusion, so 0 keeps the fit; raise it for ablations."""
    joint_miss_persist: float = 0.88254
    """P(missed at t+1 | missed at t) (synthesis_recipe.missing_joint_markov.p_miss_to_miss)."""
    # --- missed people
    person_miss_prob: tuple[float, ...] = (0.01486, 0.00313, 0.07407, 0.72881)
    """Stationary probability a person is not detected in a view, by the fraction of its in-image joints
    hidden behind another person: 0, (0, 0.25], (0.25, 0.5], (0.5, 1] (synthesis_recipe.person_miss_prob)."""
    person_miss_persist: float = 0.867
    """P(person missed at t+1 | missed at t) = 1 - 1 / mean run 7.53 frames (temporal.runs.person_missing_run_frames.mean)."""
    # --- truncation at the image border
    drop_out_of_image: bool = True
    """Drop joints projecting (or displaced) outside the image."""
    min_in_image_frac: float = 0.5
    """A person is only detected if at least this fraction of its joints is in the image (thresholds.min_visible_joints 7 of 14)."""
    min_person_joints: int = 3
    """Detections with fewer detected joints are dropped (thresholds.min_person_joints)."""
    # --- occlusion
    occlusion: bool = True
    """Compute occlusion by capsules; False = nobody is ever occluded (then the occluded rates never apply)."""
    capsule_radius_scale: float = 1.0
    """Multiplier of the body capsule radii (limbs 5-8 cm, head 11 cm, torso 13 cm; README Method 5)."""
    occlusion_margin_m: float = 0.03
    """The ray is stopped this far before the joint, so a joint touching a body surface is not hidden by it, metres."""
    occluded_score_scale: float = 0.85
    """Score multiplier of a detected joint hidden behind another person (not measured; a mild down-weighting)."""
    # --- peak interference (same joint type of two people close in a view)
    heatmap_sigma_frac: float = 0.03
    """Width (sigma) of the detector's heatmap peaks, fraction of the person's pose-independent size (see
    ``jitter_body_scale``); 0 disables peak interference. A joint's detected peak is the local maximum, reached from
    its own position, of the sum of the Gaussians (this width, amplitude = the joint's score) of every person's joint of
    the same type in that view: within ~2 sigma of each other two people's peaks are pulled together, closer they
    merge into one peak (see ``peak_merge_frac``). Geometric, hence correlated across views when the joints are close
    in 3D. Not measured (stats.json keeps no sub-gross errors by neighbour distance): OpenPose trains with sigma 7 px
    at a 368 px high input, i.e. 7 x 776 / 368 = 14.8 px on Shelf's images = 0.029 x its median person size 514 px;
    HRNet (sigma 2 of a 64 px heatmap over a crop 1.25 x the person's height) gives ~0.037."""
    peak_merge_frac: float = 0.25
    """Two people's peaks whose maxima end closer than this x sigma are one heatmap peak: the person whose joint has the
    higher score keeps it, the other loses that joint (a bottom-up detector gives each peak to one person), recorded
    as MISSED and in ``SimulationTrace.peak_lost``."""
    # --- gross errors
    gross_prob: tuple[float, ...] = per_joint(_GROSS)
    """(J,) stationary gross-error rate among detected joints, all joints (synthesis_recipe.gross_error_prob.<group>)."""
    gross_not_occluded_scale: float = 0.788
    """``gross_prob`` x this for joints not occluded: 0.01238 / 0.01572 (gross_errors.all_joints_not_occluded.gross_rate / all_joints.gross_rate)."""
    gross_person_occlusion_scale: tuple[float, ...] = (0.55, 2.6, 8.0, 1.0)
    """Multiplier of the not-occluded gross rate (``gross_prob x gross_not_occluded_scale``) by the fraction of the
    person's in-image joints hidden behind another person in that view: 0, (0, 0.25], (0.25, 0.5], (0.5, 1] (the
    bins of ``person_miss_prob``). A bottom-up detector groups the visible joints of a partly hidden person wrongly
    too: the measured gross rate of detected joints is 0.0077 / 0.037 / 0.079 / 0.080 by these bins
    (misses.joints_by_person_occluded_fraction.*.gross_rate_of_detected), far steeper than the joint's own occlusion
    explains. Fitted with ``benchmarks/noise_stats.py`` (salsa pairs in the Shelf rig; the model gives 0.0091 / 0.037 /
    0.077 / 0.117 by bin, 0.017 / 0.025 / 0.044 / 0.109 with all ones). The last bin is left at 1: it is set by the
    occluded joints' ``gross_prob_occluded`` (measured over all occluded joints) and already overshoots."""
    gross_prob_occluded: float = 0.12219
    """Gross-error rate of detected joints hidden behind another person (gross_errors.all_joints_occluded_by_nearer_person.gross_rate)."""
    gross_persist: float = 0.49028
    """P(gross at t+1 | gross at t) (synthesis_recipe.gross_error_markov.p_gross_to_gross)."""
    gross_mix: tuple[float, ...] = (0.22283, 0.5163, 0.14402, 0.11685)
    """Shares of swap / on other person / on own other joint / elsewhere, not occluded
    (gross_errors.all_joints_not_occluded.share_of_gross)."""
    gross_mix_occluded: tuple[float, ...] = (0.27193, 0.67544, 0.02632, 0.02632)
    """The same for occluded joints (gross_errors.all_joints_occluded_by_nearer_person.share_of_gross)."""
    other_person_relation: tuple[float, ...] = (0.66292, 0.06367, 0.27341)
    """On another person: shares of same joint type / mirror type / nearest other joint
    (gross_errors.all_joints.on_other_person_joint_relation_share)."""
    other_person_reach_frac: float = 0.3
    """A joint can only land on another person whose nearest joint is within this x size in the image, frac (not measured)."""
    elsewhere_offset_frac: tuple[float, ...] = (0.1, 0.3)
    """Range of the displacement of an 'elsewhere' gross error, frac (> thresholds.gross 0.10; not measured beyond)."""
    # --- whole-limb / whole-person swaps and merges
    limb_swap_prob: float = 0.0005
    """Stationary probability that the left and right arm (elbow + wrist) or leg (knee + ankle) of a person swap
    (a small part of the measured swap rate 0.0037, gross_errors.all_joints.rate_of_detected.left_right_swap, which the
    per-joint swaps of ``gross_mix`` already reproduce; not separately measured)."""
    person_mirror_prob: float = 0.0005
    """Stationary probability a person is detected mirrored (all left/right pairs swapped); same source."""
    swap_persist: float = 0.49028
    """P(swap or mirror at t+1 | at t) (gross_error_markov.p_gross_to_gross)."""
    merge_prob: float = 0.07
    """Stationary probability that a person overlapping another in the image is detected with the end of one limb
    (elbow + wrist or knee + ankle) taken from the other (tuned on the CMU pair scenes in the Shelf rig toward
    false_positives.people.merged_share_of_detections = 0.057)."""
    merge_needs_occlusion: bool = True
    """A merge needs the person to have joints hidden behind another person in that view (occluded fraction > 0), not
    only joints near another person's in the image: the measured gross rate of people with no occluded joint is
    0.0077 (misses.joints_by_person_occluded_fraction.0.gross_rate_of_detected), which merges of side-by-side people
    alone would exceed (0.0054 of the model's 0.0177 there with False). False: any overlap of the joints in the image."""
    merge_overlap_frac: float = 0.15
    """Two people overlap when some joints of both are within this x size in the image, frac."""
    merge_persist: float = 0.8
    """P(merged at t+1 | merged at t) (not measured)."""
    # --- false people
    false_people_per_view: float = 0.27641
    """Mean false people per view and frame, Poisson: 0.18339 false positives + 0.09302 fragments / duplicates
    (false_positives.people.false_positive_people_per_view_frame + fragment_or_duplicate_people_per_view_frame)."""
    false_people_mix: tuple[float, ...] = (0.204, 0.459, 0.337)
    """Shares of false people far from everybody (0.05648, *_far_from_any_person_*), near a person but not on its
    joints (0.18339 - 0.05648) and fragments on a person's joints (0.09302), of 0.27641 (false_positives.people)."""
    false_people_mean_joints: float = 7.09
    """Mean joint count of a false person (false_positives.people.false_positive_mean_joint_count)."""
    # --- confidences (values at SCORE_LEVELS = 0, .1, .25, .5, .75, .9, 1)
    score_correct: tuple[float, ...] = (0.15, 0.5792, 0.7084, 0.797, 0.8528, 0.8914, 0.98)
    """Score quantiles of correct joints (confidence.person_level_joints.correct p10-p90)."""
    score_swap: tuple[float, ...] = (0.15, 0.1952, 0.2998, 0.5186, 0.7255, 0.8135, 0.95)
    """Of swapped joints (confidence.person_level_joints.gross_left_right_swap)."""
    score_other_person: tuple[float, ...] = (0.15, 0.2542, 0.4676, 0.7034, 0.8043, 0.8498, 0.95)
    """Of joints on another person, merged joints too (confidence.person_level_joints.gross_on_other_person)."""
    score_own_other_joint: tuple[float, ...] = (0.15, 0.2216, 0.3486, 0.5377, 0.77, 0.8343, 0.95)
    """Of joints on their own person's other joint (confidence.person_level_joints.gross_on_own_other_joint)."""
    score_elsewhere: tuple[float, ...] = (0.15, 0.3234, 0.444, 0.6055, 0.7276, 0.819, 0.95)
    """Of joints elsewhere (confidence.person_level_joints.gross_elsewhere)."""
    score_false_person: tuple[float, ...] = (0.15, 0.2854, 0.5107, 0.6907, 0.8056, 0.836, 0.95)
    """Of false people's joints (confidence.detections.mean_joint_score_false_positive)."""
    score_persist: float = 0.8
    """Per-frame AR(1) coefficient of each joint's latent score rank (not measured)."""
    # --- output
    shuffle_people: bool = True
    """Shuffle the order of detections in each view and frame (a detector's order is arbitrary)."""

    def __post_init__(self) -> None:
        J = COCO17.num_joints
        for name in ("jitter_sigma_frac", "joint_miss_prob", "joint_miss_prob_occluded", "gross_prob"):
            if len(getattr(self, name)) != J:
                raise InputError(None, f"NoiseConfig.{name}", f"expected {J} values (COCO-17), got {len(getattr(self, name))}")
        for name in ("score_correct", "score_swap", "score_other_person", "score_own_other_joint", "score_elsewhere",
                     "score_false_person"):
            values = getattr(self, name)
            if len(values) != len(SCORE_LEVELS) or np.any(np.diff(values) < 0):
                raise InputError(None, f"NoiseConfig.{name}", f"expected {len(SCORE_LEVELS)} non-decreasing quantiles")
        for name, n in (("person_miss_prob", 4), ("gross_person_occlusion_scale", 4), ("gross_mix", 4), ("gross_mix_occluded", 4),
                        ("other_person_relation", 3), ("elsewhere_offset_frac", 2),
                        ("false_people_mix", 3)):
            if len(getattr(self, name)) != n:
                raise InputError(None, f"NoiseConfig.{name}", f"expected {n} values, got {len(getattr(self, name))}")
        for name in ("heatmap_sigma_frac", "peak_merge_frac", "jitter_sigma_px", "jitter_scale"):
            if not getattr(self, name) >= 0.0:
                raise InputError(None, f"NoiseConfig.{name}", f"must be >= 0, got {getattr(self, name)}")
        if not self.body_size_ratio > 0.0:
            raise InputError(None, "NoiseConfig.body_size_ratio", f"must be > 0, got {self.body_size_ratio}")
        for name in ("joint_miss_persist", "person_miss_persist", "gross_persist", "swap_persist", "merge_persist",
                     "jitter_ar1", "score_persist", "jitter_track_share", "jitter_white_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(None, f"NoiseConfig.{name}", f"must be in [0, 1], got {getattr(self, name)}")

    # --- presets

    @classmethod
    def none(cls) -> "NoiseConfig":
        """Exact projections: no effect at all, score 1, not even border truncation (joints behind a camera get score 0).

        Example:
            >>> NoiseConfig.none().jitter_scale, NoiseConfig.none().score_correct[3]
            (0.0, 1.0)
        """
        return cls().replace(**{name: value for effect in _EFFECTS.values() for name, value in effect})

    @classmethod
    def gaussian(cls, sigma_px: float) -> "NoiseConfig":
        """White isotropic Gaussian pixel noise of ``sigma_px`` and border truncation; nothing else, score 1.

        Example:
            >>> NoiseConfig.gaussian(2.0).jitter_sigma_px
            2.0
        """
        return cls.only("truncation").replace(jitter_sigma_px=float(sigma_px))

    @classmethod
    def occlusion_heavy(cls) -> "NoiseConfig":
        """Realistic, but occluded (and self-occluded) joints fail far more often: for close-contact stress tests.

        Example:
            >>> NoiseConfig.occlusion_heavy().gross_prob_occluded
            0.25
        """
        return cls().replace(
            joint_miss_prob_occluded=tuple(min(1.0, 0.3 + p) for p in per_joint(_MISS_OCC)),
            self_occluded_miss_boost=0.3, gross_prob_occluded=0.25, capsule_radius_scale=1.3,
            person_miss_prob=(0.01486, 0.02, 0.2, 0.9), merge_prob=0.25,
        )

    @classmethod
    def only(cls, *effects: str) -> "NoiseConfig":
        """:meth:`none` with the named effects at their realistic defaults (names in :data:`EFFECTS`).

        Example:
            >>> c = NoiseConfig.only("jitter")
            >>> c.jitter_scale, c.gross_prob_occluded
            (1.0, 0.0)
        """
        unknown = [e for e in effects if e not in _EFFECTS]
        if unknown:
            raise InputError(None, "effects", f"unknown noise effect(s) {unknown}; known: {list(_EFFECTS)}")
        default = cls()
        keep = {name: getattr(default, name) for e in effects for name, _ in _EFFECTS[e]}
        return cls.none().replace(**keep)


# effect -> fields and their "off" values (none() applies all of them)
_ONES = (1.0,) * len(SCORE_LEVELS)
_ZEROS_J = (0.0,) * COCO17.num_joints
_EFFECTS: dict[str, tuple[tuple[str, object], ...]] = {
    "jitter": (("jitter_scale", 0.0),),
    "joint_miss": (("joint_miss_prob", _ZEROS_J), ("joint_miss_prob_occluded", _ZEROS_J), ("self_occluded_miss_boost", 0.0)),
    "person_miss": (("person_miss_prob", (0.0, 0.0, 0.0, 0.0)),),
    "truncation": (("drop_out_of_image", False), ("min_in_image_frac", 0.0), ("min_person_joints", 1)),
    "occlusion": (("occlusion", False), ("occluded_score_scale", 1.0)),
    "gross": (("gross_prob", _ZEROS_J), ("gross_prob_occluded", 0.0)),
    "swaps": (("limb_swap_prob", 0.0), ("person_mirror_prob", 0.0)),
    "merge": (("merge_prob", 0.0),),
    "false_people": (("false_people_per_view", 0.0),),
    "scores": (("score_correct", _ONES), ("score_swap", _ONES), ("score_other_person", _ONES),
               ("score_own_other_joint", _ONES), ("score_elsewhere", _ONES), ("score_false_person", _ONES)),
    "shuffle": (("shuffle_people", False),),
    "peak_interference": (("heatmap_sigma_frac", 0.0),),
}
#: Names of the switchable effects of :meth:`NoiseConfig.only`.
EFFECTS: tuple[str, ...] = tuple(_EFFECTS)


# ----------------------------------------------------------------------------- body capsules

# (endpoint A weights, endpoint B weights, radius m): limbs 5-8 cm, head 11 cm (README Method 5), torso as capsules.
_MID_SH = {"left_shoulder": 0.5, "right_shoulder": 0.5}
_MID_HIP = {"left_hip": 0.5, "right_hip": 0.5}
_HEAD = {"left_ear": 0.5, "right_ear": 0.5}
_CAPSULES: tuple[tuple[dict, dict, float], ...] = (
    (_HEAD, _HEAD, 0.11),
    (_MID_SH, _HEAD, 0.06),
    (_MID_SH, _MID_HIP, 0.13),
    ({"left_shoulder": 1.0}, {"left_hip": 1.0}, 0.07),
    ({"right_shoulder": 1.0}, {"right_hip": 1.0}, 0.07),
    ({"left_shoulder": 1.0}, {"right_shoulder": 1.0}, 0.06),
    ({"left_hip": 1.0}, {"right_hip": 1.0}, 0.08),
    ({"left_shoulder": 1.0}, {"left_elbow": 1.0}, 0.06),
    ({"right_shoulder": 1.0}, {"right_elbow": 1.0}, 0.06),
    ({"left_elbow": 1.0}, {"left_wrist": 1.0}, 0.05),
    ({"right_elbow": 1.0}, {"right_wrist": 1.0}, 0.05),
    ({"left_hip": 1.0}, {"left_knee": 1.0}, 0.08),
    ({"right_hip": 1.0}, {"right_knee": 1.0}, 0.08),
    ({"left_knee": 1.0}, {"left_ankle": 1.0}, 0.06),
    ({"right_knee": 1.0}, {"right_ankle": 1.0}, 0.06),
)


def _capsule_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``A (C, J)``, ``B (C, J)`` endpoint weights, ``radius (C,)`` m, ``adjacent (J, C)`` bool (joint lies on capsule)."""
    J, C = COCO17.num_joints, len(_CAPSULES)
    A, B, radius = np.zeros((C, J)), np.zeros((C, J)), np.zeros(C)
    for c, (a, b, r) in enumerate(_CAPSULES):
        for name, w in a.items():
            A[c, COCO17.index(name)] = w
        for name, w in b.items():
            B[c, COCO17.index(name)] = w
        radius[c] = r
    adjacent = ((A != 0) | (B != 0)).T.copy()  # (J, C)
    face = [COCO17.index(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    adjacent[np.ix_(face, [0, 1])] = True  # face points lie on the head sphere / neck
    return A, B, radius, adjacent


def occlusion_masks(joints_world: np.ndarray, centers_world: np.ndarray, radius_scale: float = 1.0,
                    margin_m: float = 0.03, frames_per_chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Which joints each camera cannot see: the camera-to-joint ray passes through a body capsule.

    Every person is a set of capsules (head sphere, neck, torso, upper/lower arms and legs). A joint is
    occluded in a view when the segment from the camera centre to ``margin_m`` before the joint passes
    within a capsule's radius of its axis; capsules the joint itself lies on are ignored.

    Two stages keep it fast: a conservative float32 test of every segment against each capsule's bounding
    sphere keeps the few pairs that may hit (a few percent in close contact), and only those get the exact
    float64 segment-segment distance (Ericson, Real-Time Collision Detection 5.1.9; a zero-length capsule,
    the head, is a sphere).

    Args:
        joints_world: ``(T, P, 17, 3)`` metres, world frame, COCO-17; NaN = absent.
        centers_world: ``(V, 3)`` camera centres, metres.
        radius_scale: multiplier of the capsule radii.
        margin_m: metres before the joint where the ray stops.
        frames_per_chunk: frames processed at once (memory bound).

    Returns:
        ``by_other (T, V, P, J)`` bool (hidden by another person) and ``by_self (T, V, P, J)`` bool (by its own body).

    Example:
        >>> body = np.zeros((1, 2, 17, 3)); body[..., 2] = np.linspace(1.7, 0.1, 17)
        >>> body[0, 1, :, 0] = 1.0                      # person 1 stands 1 m behind person 0 along +x
        >>> other, own = occlusion_masks(body, np.array([[-4.0, 0.0, 1.0], [5.0, 0.0, 1.0]]))
        >>> bool(other[0, 0, 1].any()), bool(other[0, 1, 0].any())   # cam 0 cannot see person 1, cam 1 not person 0
        (True, True)
    """
    joints_world = np.asarray(joints_world, dtype=float)
    T, P, J, _ = joints_world.shape
    centers_world = np.asarray(centers_world, dtype=float)
    V = centers_world.shape[0]
    A, B, radius, adjacent = _capsule_tables()
    C = len(radius)
    radius_m = radius * radius_scale  # (C,)
    by_other = np.zeros((T, V, P, J), dtype=bool)
    by_self = np.zeros((T, V, P, J), dtype=bool)
    # a joint is never hidden by the capsules it lies on
    allowed = ~(np.eye(P, dtype=bool)[:, None, :, None] & adjacent[None, :, None, :]).reshape(P * J, P * C)  # (N, Q)
    is_endpoint = ((A != 0) | (B != 0)).astype(float)  # (C, J)
    for t0 in range(0, T, frames_per_chunk):
        pts = joints_world[t0:t0 + frames_per_chunk]  # (t, P, J, 3)
        tn = pts.shape[0]
        present = np.isfinite(pts).all(-1)  # (t, P, J)
        pts0 = np.where(present[..., None], pts, 0.0)
        cap_a = np.einsum("cj,tpjk->tpck", A, pts0)  # (t, P2, C, 3)
        cap_b = np.einsum("cj,tpjk->tpck", B, pts0)
        cap_ok = np.einsum("cj,tpj->tpc", is_endpoint, (~present).astype(float)) == 0  # (t, P2, C)
        ray = pts0[:, None] - centers_world[None, :, None, None, :]  # (t, V, P, J, 3)
        ray_len = np.linalg.norm(ray, axis=-1, keepdims=True)
        ray = ray * np.clip(1.0 - margin_m / np.maximum(ray_len, 1e-9), 0.0, None)  # stop before the joint
        d1 = ray.reshape(tn, V, P * J, 3)  # (t, V, N, 3) camera -> joint segments
        qa = cap_a.reshape(tn, P * C, 3)  # (t, Q, 3), Q = P2 * C
        d2 = (cap_b - cap_a).reshape(tn, P * C, 3)  # (t, Q, 3) capsule axes

        # stage 1 (float32, conservative): the segment's line, cut at the joint, passes through the capsule's
        # bounding sphere: s = clip(d1 . m / |d1|^2, -inf, 1), |m - s d1|^2 = |m|^2 - s (2 d1 . m - s |d1|^2) < R^2
        mid = ((qa + 0.5 * d2)[:, None] - centers_world[None, :, None, :]).astype(np.float32)  # (t, V, Q, 3)
        bound = 0.5 * np.linalg.norm(d2, axis=-1) + np.tile(radius_m, P) + 0.01  # (t, Q) sphere radius + 1 cm slack
        excess = np.einsum("tvqk,tvqk->tvq", mid, mid) - np.where(cap_ok.reshape(tn, P * C), bound**2, -np.inf)[:, None]
        d1_32 = d1.astype(np.float32)
        along = np.matmul(d1_32, mid.swapaxes(-1, -2))  # (t, V, N, Q) d1 . m
        len2 = np.einsum("tvnk,tvnk->tvn", d1_32, d1_32)[..., None]  # (t, V, N, 1)
        s = along * (1.0 / np.maximum(len2, 1e-12))
        np.minimum(s, 1.0, out=s)
        work = s * len2
        np.subtract(along, work, out=work)
        work += along
        work *= s  # s (2 d1 . m - s |d1|^2)
        candidate = work > excess[:, :, None, :].astype(np.float32)
        candidate &= allowed
        candidate &= present.reshape(tn, 1, P * J, 1)
        pair = np.flatnonzero(candidate)  # (M,) into (t, V, N, Q)
        ray_index, qi = np.divmod(pair, P * C)  # ray_index into (t, V, N)
        tv, ni = np.divmod(ray_index, P * J)
        ti, vi = np.divmod(tv, V)

        # stage 2 (float64, exact): closest points of P(s) = cam + s d1 and Q(u) = qa + u d2, s, u in [0, 1]
        seg = d1.reshape(-1, 3)[ray_index]  # (M, 3)
        capsule_index = ti * (P * C) + qi
        axis = d2.reshape(-1, 3)[capsule_index]  # (M, 3)
        r = centers_world[vi] - qa.reshape(-1, 3)[capsule_index]  # (M, 3) camera - capsule start
        a = np.einsum("mk,mk->m", seg, seg)
        e = np.einsum("mk,mk->m", axis, axis)
        f = np.einsum("mk,mk->m", axis, r)
        c = np.einsum("mk,mk->m", seg, r)
        b = np.einsum("mk,mk->m", seg, axis)
        rr = np.einsum("mk,mk->m", r, r)
        a_safe = np.maximum(a, 1e-12)
        e_safe = np.maximum(e, 1e-12)
        denom = a * e - b * b
        s = np.where(denom > 1e-12, np.clip((b * f - c * e) / np.where(denom > 1e-12, denom, 1.0), 0.0, 1.0), 0.0)
        u = (b * s + f) / e_safe
        u = np.where(e > 1e-12, u, 0.0)
        s = np.where(u < 0, np.clip(-c / a_safe, 0.0, 1.0), np.where(u > 1, np.clip((b - c) / a_safe, 0.0, 1.0), s))
        s = np.where(e > 1e-12, s, np.clip(-c / a_safe, 0.0, 1.0))  # a sphere (the head): nearest point of the segment
        u = np.clip(u, 0.0, 1.0)
        dist2 = rr + s * s * a + u * u * e + 2 * s * c - 2 * u * f - 2 * s * u * b  # (M,)
        hit = dist2 < (radius_m ** 2)[qi % C]
        own = (ni // J) == (qi // C)
        other_chunk = np.zeros(tn * V * P * J, dtype=bool)
        self_chunk = np.zeros(tn * V * P * J, dtype=bool)
        other_chunk[ray_index[hit & ~own]] = True
        self_chunk[ray_index[hit & own]] = True
        by_other[t0:t0 + tn] = other_chunk.reshape(tn, V, P, J)
        by_self[t0:t0 + tn] = self_chunk.reshape(tn, V, P, J)
    return by_other, by_self


# ----------------------------------------------------------------------------- trace


@dataclass(frozen=True)
class SimulationTrace:
    """Ground-truth bookkeeping of one :func:`simulate_detections` call (``P`` = ground-truth people).

    Attributes:
        uv_gt_px: ``(T, V, P, J, 2)`` exact projections, raw image px (NaN where absent or behind the camera).
        in_image: ``(T, V, P, J)`` bool, projects inside the image (in front of the camera).
        occluded: ``(T, V, P, J)`` bool, hidden behind another person (capsule ray test).
        self_occluded: ``(T, V, P, J)`` bool, hidden by its own body.
        person_size_px: ``(T, V, P)`` diagonal of the bounding box of the projected joints, px (NaN if absent).
        jitter_px: ``(T, V, P, J, 2)`` jitter added to correct joints, px.
        person_missed: ``(T, V, P)`` bool, dropped by the person-miss chain.
        mirrored: ``(T, V, P)`` bool, detected left/right mirrored. limb_swapped: ``(T, V, P, 2)`` bool, arms / legs swapped.
        merged_with: ``(T, V, P)`` int, the other person merged into this one's detection (-1 none).
        detection_index: ``(T, V, P)`` int, row of this person's detection in ``Detections2D.keypoints[t][v]`` (-1 none).
        source_person: ``T`` tuples of ``V`` arrays ``(P_v,)`` int: ground-truth person of each detection (-1 = false person).
        source_joint: ``T`` tuples of ``V`` arrays ``(P_v, J, 2)`` int: (person, joint) whose position each detected joint
            was taken from (-1 = none / elsewhere / false person).
        joint_status: ``T`` tuples of ``V`` arrays ``(P_v, J)`` int8 :class:`JointStatus` of each detected joint.
        pull_px: ``(T, V, P, J, 2)`` displacement of each joint's heatmap peak by the peaks of other people's joints of
            the same type (peak interference), px; zeros when it is off.
        peak_lost: ``(T, V, P, J)`` bool, the joint's peak merged with another person's and went to that person (the
            joint is reported MISSED).
    """

    uv_gt_px: np.ndarray
    in_image: np.ndarray
    occluded: np.ndarray
    self_occluded: np.ndarray
    person_size_px: np.ndarray
    jitter_px: np.ndarray
    person_missed: np.ndarray
    mirrored: np.ndarray
    limb_swapped: np.ndarray
    merged_with: np.ndarray
    detection_index: np.ndarray
    source_person: tuple[tuple[np.ndarray, ...], ...]
    source_joint: tuple[tuple[np.ndarray, ...], ...]
    joint_status: tuple[tuple[np.ndarray, ...], ...]
    pull_px: np.ndarray | None = None
    peak_lost: np.ndarray | None = None


# ----------------------------------------------------------------------------- helpers


def _markov(pi: np.ndarray, p_stay: float, u: np.ndarray) -> np.ndarray:
    """Two-state chains over axis 0 with stationary on-probability ``pi`` (T, ...) and persistence ``p_stay``.

    Entry probability ``pi / (1 - pi) * (1 - p_stay)`` keeps ``pi`` stationary; where ``pi`` is 0 the state ends.
    The first frame starts from the stationary distribution. ``u``: (T, ...) uniforms. Returns (T, ...) bool.
    All frames at once: ``state_t = u_t < (stay_t if state_{t-1} else enter_t)`` is a prefix scan (:func:`_select_scan`).
    """
    pi = np.broadcast_to(pi, u.shape)
    enter, stay = _entry_and_stay(pi, p_stay)
    stay = np.where(pi > 0, stay, 0.0)
    if_off = u < enter  # (T, ...) next state when off
    if_on = u < stay  # (T, ...) next state when on
    if_off[0] = if_on[0] = u[0] < pi[0]  # frame 0: stationary, whatever came before
    return _select_scan(if_off, if_on)


def _select_scan(if_off: np.ndarray, if_on: np.ndarray) -> np.ndarray:
    """States ``s_t = if_on[t] if s_{t-1} else if_off[t]`` over axis 0 from ``s_{-1} = False``: ``(T, ...)`` bool.

    Each frame is a map of {off, on} onto itself, given by its two images; maps compose associatively, so an
    inclusive Hillis-Steele scan composes all prefixes in ``log2 T`` vectorised steps (exact: boolean logic only).
    """
    off, on = if_off.copy(), if_on.copy()  # images of off / on under the composed map of frames ..t
    step = 1
    while step < off.shape[0]:
        prev_off, prev_on = off[:-step].copy(), on[:-step].copy()  # maps of frames ..t-step
        cur_off, cur_on = off[step:], on[step:]
        new_off = np.where(prev_off, cur_on, cur_off)  # apply frames t-step+1..t after frames ..t-step
        new_on = np.where(prev_on, cur_on, cur_off)
        off[step:], on[step:] = new_off, new_on
        step *= 2
    return off


def _entry_and_stay(pi: np.ndarray, p_stay: float) -> tuple[np.ndarray, np.ndarray]:
    """Entry and stay probabilities of a two-state chain with stationary on-probability ``pi``.

    ``enter = pi / (1 - pi) * (1 - p_stay)``; where that exceeds 1 the run must last longer instead:
    ``enter = 1``, ``stay = 1 - (1 - pi) / pi`` (so ``pi = 1`` means always on).
    """
    pi = np.asarray(pi, dtype=float)
    odds = pi / np.maximum(1.0 - pi, 1e-12)
    enter = odds * (1.0 - p_stay)
    over = enter > 1.0
    stay = np.where(over, 1.0 - (1.0 - pi) / np.maximum(pi, 1e-12), p_stay)
    return np.minimum(enter, 1.0), stay


def _ar1_unit(rng: np.random.Generator, coef: float, shape: tuple[int, ...]) -> np.ndarray:
    """``(T, ...)`` stationary AR(1) series with unit variance and coefficient ``coef`` along axis 0."""
    noise = rng.standard_normal(shape)
    if coef <= 0 or shape[0] < 2:
        return noise
    noise[1:] *= np.sqrt(1.0 - coef**2)
    return lfilter([1.0], [1.0, -coef], noise, axis=0)


@functools.lru_cache(maxsize=16)
def _median_radius(tail_sigma: float) -> float:
    """Median of ``|s z|``, ``z ~ N(0, I_2)``, ``s = exp(tail_sigma n)``, ``n ~ N(0, 1)`` (Gauss-Hermite + bisection)."""
    if tail_sigma <= 0:
        return float(np.sqrt(2 * np.log(2)))
    nodes, weights = np.polynomial.hermite_e.hermegauss(48)
    weights = weights / weights.sum()
    scale2 = np.exp(2 * tail_sigma * nodes)
    lo, hi = 1e-3, 50.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        cdf = float(np.sum(weights * (1 - np.exp(-mid * mid / (2 * scale2)))))
        lo, hi = (mid, hi) if cdf < 0.5 else (lo, mid)
    return 0.5 * (lo + hi)


def _bone_neighbours() -> np.ndarray:
    """``(J, 4)`` int: joints sharing a bone with each joint (-1 padded)."""
    nb = [[] for _ in range(COCO17.num_joints)]
    for a, b in COCO17.bone_indices:
        nb[a].append(b)
        nb[b].append(a)
    out = np.full((COCO17.num_joints, 4), -1, dtype=np.int64)
    for j, lst in enumerate(nb):
        out[j, :len(lst)] = lst[:4]
    return out


_LIMBS = (("left_elbow", "right_elbow", "left_wrist", "right_wrist"), ("left_knee", "right_knee", "left_ankle", "right_ankle"))
_MERGE_LIMBS = (("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("left_knee", "left_ankle"),
                ("right_knee", "right_ankle"))


_BODY_CHAINS = tuple(tuple(f"{side}_{name}" for name in ("ankle", "knee", "hip", "shoulder", "ear")) for side in ("left", "right"))
#: Top of head = shoulder mid-point + this x (ear mid-point - shoulder mid-point): Shelf's ground truth puts the top of
#: head 0.28-0.39 m from the shoulder mid-point (../shared/datasets/shelf/actorsGT.mat, 2 actors x 3 frames), the CMU
#: library's ear mid-point is a median 0.21 m from it.
HEAD_TOP_RATIO = 1.6


def head_top(joints_world: np.ndarray) -> np.ndarray:
    """Estimated top of head ``(..., 3)`` of COCO-17 people ``(..., 17, 3)`` (any units; NaN propagates).

    COCO-17 has no head top; stats.json's person size (bbox of the 14 Shelf joints) includes it. It lies on the line
    from the shoulder mid-point through the ear mid-point, :data:`HEAD_TOP_RATIO` times as far.

    Example:
        >>> body = np.zeros((17, 3)); body[COCO17.indices(("left_shoulder", "right_shoulder")), 2] = 1.40
        >>> body[COCO17.indices(("left_ear", "right_ear")), 2] = 1.60
        >>> round(float(head_top(body)[2]), 3)
        1.72
    """
    joints_world = np.asarray(joints_world, dtype=float)
    shoulders = joints_world[..., COCO17.indices(("left_shoulder", "right_shoulder")), :].mean(-2)
    ears = joints_world[..., COCO17.indices(("left_ear", "right_ear")), :].mean(-2)
    return shoulders + HEAD_TOP_RATIO * (ears - shoulders)


def _body_size_px(joints_world: np.ndarray, depth: np.ndarray, front: np.ndarray, rig: Rig, ratio: float) -> np.ndarray:
    """Pose-independent image size ``(T, V, P)`` px: ``ratio x focal_px / median joint depth x body length``.

    ``joints_world (T, P, J, 3)`` m, ``depth (T, V, P, J)`` m, ``front (T, V, P, J)``. Body length = ankle-knee-hip-
    shoulder-ear, mean of both sides, median over frames (m). NaN where unknown.
    """
    chains = []
    for names in _BODY_CHAINS:
        idx = COCO17.indices(names)
        chains.append(np.linalg.norm(np.diff(joints_world[:, :, idx], axis=2), axis=-1).sum(-1))  # (T, P)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: unknown, handled by the caller
        body_m = np.nanmedian(np.nanmean(np.stack(chains), axis=0), axis=0)  # (P,)
        person_depth = np.nanmedian(np.where(front, depth, np.nan), axis=-1)  # (T, V, P)
        size = rig.K[:, 0, 0][None, :, None] * ratio * body_m[None, None, :] / person_depth
    return np.where(np.isfinite(size) & (size > 0), size, np.nan)


def _person_size(uv: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``uv (..., J, 2)``, ``valid (..., J)`` -> bbox diagonal ``(...)`` px (NaN where no valid joint)."""
    lo = np.where(valid[..., None], uv, np.inf).min(-2)
    hi = np.where(valid[..., None], uv, -np.inf).max(-2)
    any_valid = valid.any(-1)
    diag = np.linalg.norm(np.where(any_valid[..., None], hi - lo, 0.0), axis=-1)
    return np.where(any_valid, diag, np.nan)


# ----------------------------------------------------------------------------- simulation


def simulate_detections(joints_world: np.ndarray, rig: Rig, config: NoiseConfig, rng: np.random.Generator,
                        frames: Sequence[int] | None = None) -> tuple[Detections2D, SimulationTrace]:
    """Simulate what a bottom-up 2D detector reports for ground-truth people seen by a rig.

    Args:
        joints_world: ``(T, P, 17, 3)`` metres, world frame, COCO-17; NaN = absent (a whole person or a joint).
            Consecutive frames (the temporal effects assume a detector frame rate of ~25-30 fps).
        rig: the ``V`` cameras.
        config: the noise model (:class:`NoiseConfig`).
        rng: random generator; the same seed gives the same output.
        frames: ``T`` frame numbers (default ``0..T-1``).

    Returns:
        ``Detections2D`` (``(P_v, 17, 3)`` ``u_px, v_px, score`` per view and frame, raw image pixels, score 0 =
        missing joint) and its :class:`SimulationTrace`.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(4, radius_m=4.0, width=640, height=480, focal_px=400.0)
        >>> walk = np.zeros((30, 1, 17, 3)); walk[..., 2] = np.linspace(1.7, 0.1, 17); walk[..., 0] = np.linspace(-0.5, 0.5, 30)[:, None, None]
        >>> det, trace = simulate_detections(walk, rig, NoiseConfig(), np.random.default_rng(1))
        >>> det.num_frames, trace.occluded.shape
        (30, (30, 4, 1, 17))
    """
    joints_world = np.asarray(joints_world, dtype=float)
    J = COCO17.num_joints
    if joints_world.ndim != 4 or joints_world.shape[2:] != (J, 3):
        raise InputError(None, "joints_world", f"expected (T, P, {J}, 3), got {joints_world.shape}")
    if not isinstance(rig, Rig):
        raise InputError(None, "rig", f"expected a closecap.cameras.Rig, got {type(rig).__name__}")
    T, P = joints_world.shape[:2]
    V = len(rig)
    frames = tuple(range(T)) if frames is None else tuple(int(f) for f in frames)
    if len(frames) != T:
        raise InputError(None, "frames", f"{len(frames)} frame numbers for {T} frames")
    cfg = config

    # ---- geometry: projections, visibility, person size, occlusion
    present = np.isfinite(joints_world).all(-1)  # (T, P, J)
    pts0 = np.where(present[..., None], joints_world, 0.0)
    uv, depth = rig.project(pts0)  # (V, T, P, J, 2), (V, T, P, J)
    uv = np.moveaxis(uv, 0, 1)  # (T, V, P, J, 2)
    depth = np.moveaxis(depth, 0, 1)  # (T, V, P, J)
    front = present[:, None] & (depth > 1e-6)  # (T, V, P, J)
    sizes = rig.image_sizes.astype(float)[None, :, None, None, :]  # (1, V, 1, 1, 2)
    in_image = front & np.all((uv >= -0.5) & (uv <= sizes - 0.5), axis=-1)
    uv = np.where(front[..., None], uv, 0.0)
    person_size = _person_size(uv, front)  # (T, V, P)
    size0 = np.nan_to_num(person_size)[..., None]  # (T, V, P, 1)
    person_present = front.any(-1)  # (T, V, P)
    if cfg.occlusion and P > 0:
        occluded, self_occluded = occlusion_masks(joints_world, rig.centers_world, cfg.capsule_radius_scale,
                                                  cfg.occlusion_margin_m)
        occluded &= in_image
        self_occluded &= in_image
    else:
        occluded = np.zeros((T, V, P, J), dtype=bool)
        self_occluded = np.zeros((T, V, P, J), dtype=bool)

    # pose-independent size of each person in each view (what the detector's precision scales with), px
    if cfg.jitter_body_scale or cfg.heatmap_sigma_frac > 0:
        body_size = _body_size_px(joints_world, depth, front, rig, cfg.body_size_ratio)  # (T, V, P)
        body_size = np.where(np.isfinite(body_size), body_size, np.nan_to_num(person_size))  # unknown body: the bbox
    else:
        body_size = np.nan_to_num(person_size)

    # ---- jitter (T, V, P, J, 2) px
    sigma_j = np.asarray(cfg.jitter_sigma_frac) * cfg.jitter_scale  # (J,)
    jitter = np.zeros((T, V, P, J, 2))
    if np.any(sigma_j > 0):
        track = (V, P, J, 2)
        norm = np.sqrt(2 * np.log(2)) / _median_radius(cfg.jitter_tail_sigma)  # median radial = 1.1774 sigma
        scale = np.exp(cfg.jitter_tail_sigma * rng.standard_normal(track[:-1]))[..., None] * norm  # (V, P, J, 1)
        share_ar = (1 - cfg.jitter_track_share) * (1 - cfg.jitter_white_share)
        share_white = (1 - cfg.jitter_track_share) * cfg.jitter_white_share
        unit = (np.sqrt(cfg.jitter_track_share) * rng.standard_normal(track)[None]
                + np.sqrt(share_ar) * _ar1_unit(rng, cfg.jitter_ar1, (T,) + track)
                + np.sqrt(share_white) * rng.standard_normal((T,) + track))  # (T, V, P, J, 2)
        size_j = body_size[..., None] if cfg.jitter_body_scale else size0  # (T, V, P, 1)
        jitter = unit * scale * sigma_j[:, None] * size_j[..., None]
    if cfg.jitter_sigma_px > 0:
        jitter = jitter + cfg.jitter_sigma_px * rng.standard_normal((T, V, P, J, 2))

    # ---- who is near whom in each image (for gross errors and merges)
    flip = COCO17.flip_permutation  # (J,)
    vis = in_image
    if P > 1:
        # squared image distances between the joints of each unordered pair of people (a, b), both in the image
        pa, pb = np.triu_indices(P, 1)  # (K,) each
        u_px, v_px = uv[..., 0], uv[..., 1]  # (T, V, P, J) each
        du = u_px[:, :, pa, :, None] - u_px[:, :, pb, None, :]  # (T, V, K, J_a, J_b)
        dv = v_px[:, :, pa, :, None] - v_px[:, :, pb, None, :]
        pair_d2 = du * du
        pair_d2 += dv * dv  # (T, V, K, J_a, J_b)
        pair_d2[~(vis[:, :, pa, :, None] & vis[:, :, pb, None, :])] = np.inf
        dist2 = np.full((T, V, P, P, J), np.inf)  # (T, V, P, P2, J): joint j of p to its nearest joint of P2
        nearest_joint_of = np.zeros((T, V, P, P, J), dtype=np.int64)
        dist2[:, :, pa, pb] = pair_d2.min(-1)
        dist2[:, :, pb, pa] = pair_d2.min(-2)
        nearest_joint_of[:, :, pa, pb] = pair_d2.argmin(-1)
        nearest_joint_of[:, :, pb, pa] = pair_d2.argmin(-2)
        nearest_other = dist2.argmin(3)  # (T, V, P, J)
        nearest_dist2 = dist2.min(3)  # (T, V, P, J)
        other_nearest_joint = np.take_along_axis(nearest_joint_of, nearest_other[:, :, :, None], 3)[:, :, :, 0]
        person_dist2 = dist2.min(-1)  # (T, V, P, P2)
        merge_partner = person_dist2.argmin(-1)  # (T, V, P)
        merge_reach = cfg.merge_overlap_frac * np.nan_to_num(person_size, nan=0.0)
        merge_possible = person_dist2.min(-1) < merge_reach * merge_reach
    else:
        nearest_other = np.zeros((T, V, P, J), dtype=np.int64)
        other_nearest_joint = np.zeros((T, V, P, J), dtype=np.int64)
        nearest_dist2 = np.full((T, V, P, J), np.inf)
        merge_partner = np.zeros((T, V, P), dtype=np.int64)
        merge_possible = np.zeros((T, V, P), dtype=bool)
    reach = cfg.other_person_reach_frac * size0  # (T, V, P, 1) px
    reachable = nearest_dist2 < reach * reach  # (T, V, P, J)

    # ---- missed people
    n_in = in_image.sum(-1)  # (T, V, P)
    occ_frac = occluded.sum(-1) / np.maximum(n_in, 1)
    bins = np.digitize(occ_frac, [1e-9, 0.25 + 1e-9, 0.5 + 1e-9])  # 0, (0,.25], (.25,.5], (.5,1]
    pi_person = np.asarray(cfg.person_miss_prob)[bins]
    person_missed = _markov(pi_person, cfg.person_miss_persist, rng.random((T, V, P)))

    # ---- missed joints
    miss_base = np.asarray(cfg.joint_miss_prob)[None, None, None, :]
    miss_occ = np.asarray(cfg.joint_miss_prob_occluded)[None, None, None, :]
    pi_miss = np.where(occluded, miss_occ, miss_base)
    pi_miss = np.clip(pi_miss + cfg.self_occluded_miss_boost * (self_occluded & ~occluded), 0.0, 1.0)
    joint_missed = _markov(pi_miss, cfg.joint_miss_persist, rng.random((T, V, P, J)))

    # ---- gross errors (Markov, category fixed at entry)
    pi_gross = np.where(occluded, cfg.gross_prob_occluded,
                        np.asarray(cfg.gross_prob)[None, None, None, :] * cfg.gross_not_occluded_scale
                        * np.asarray(cfg.gross_person_occlusion_scale)[bins][..., None])
    pi_gross = np.clip(pi_gross, 0.0, 1.0)
    pi_gross = np.broadcast_to(pi_gross, (T, V, P, J))
    mix = np.where(occluded[..., None], np.asarray(cfg.gross_mix_occluded), np.asarray(cfg.gross_mix))  # (T, V, P, J, 4)
    mix_cum = np.cumsum(mix / np.maximum(mix.sum(-1, keepdims=True), 1e-12), axis=-1)
    new_cat = 1 + (rng.random((T, V, P, J, 1)) > mix_cum[..., :-1]).sum(-1)  # 1..4 = SWAP, OTHER, OWN, ELSEWHERE
    has_mirror = (flip != np.arange(J))[None, None, None, :]
    possible_new = np.where(new_cat == 1, has_mirror, np.where(new_cat == 2, reachable, True))
    gross_cat, gross_entry = _gross_chain(pi_gross, cfg.gross_persist, rng.random((T, V, P, J)), new_cat,
                                          possible_new, reachable)
    t_idx = np.arange(T)[:, None, None, None]
    v_idx = np.arange(V)[None, :, None, None]
    p_idx = np.arange(P)[None, None, :, None]
    j_idx = np.arange(J)[None, None, None, :]
    entry = np.maximum(gross_entry, 0)
    relation_u = rng.random((T, V, P, J))[entry, v_idx, p_idx, j_idx]
    own_u = rng.random((T, V, P, J))[entry, v_idx, p_idx, j_idx]
    rel_cum = np.cumsum(np.asarray(cfg.other_person_relation) / max(sum(cfg.other_person_relation), 1e-12))
    relation = (relation_u[..., None] > rel_cum[:-1]).sum(-1)  # 0 same, 1 mirror, 2 other
    lo, hi = cfg.elsewhere_offset_frac
    angle = rng.uniform(0, 2 * np.pi, (T, V, P, J))[entry, v_idx, p_idx, j_idx]
    magnitude = rng.uniform(lo, hi, (T, V, P, J))[entry, v_idx, p_idx, j_idx]

    # ---- limb swaps, person mirrors, merges
    mirrored = _markov(np.full((T, V, P), cfg.person_mirror_prob), cfg.swap_persist, rng.random((T, V, P)))
    limb_swapped = _markov(np.full((T, V, P, 2), cfg.limb_swap_prob), cfg.swap_persist, rng.random((T, V, P, 2)))
    if cfg.merge_needs_occlusion:
        merge_possible = merge_possible & (bins > 0)
    merged = _markov(np.where(merge_possible, cfg.merge_prob, 0.0), cfg.merge_persist, rng.random((T, V, P)))
    merge_limb = rng.integers(0, len(_MERGE_LIMBS), (V, P))  # which limb comes from the partner, fixed per track

    # ---- scores: persistent latent rank per joint
    rank = ndtr(_ar1_unit(rng, cfg.score_persist, (T, V, P, J)))  # (T, V, P, J) uniform

    # ---- peak interference: same-type joints of two people near each other in a view share a heatmap blob
    pull = np.zeros((T, V, P, J, 2))
    peak_lost = np.zeros((T, V, P, J), dtype=bool)
    if cfg.heatmap_sigma_frac > 0 and P > 1:
        amplitude = np.interp(rank, SCORE_LEVELS, cfg.score_correct) * np.where(occluded, cfg.occluded_score_scale, 1.0)
        has_peak = in_image & ~joint_missed  # (T, V, P, J) a missed joint has no peak to interfere with
        sigma_px = cfg.heatmap_sigma_frac * body_size  # (T, V, P)
        # ties (equal scores, e.g. with the "scores" effect off) are broken by the persistent latent rank
        pull, peak_lost = peak_interference(uv, np.where(has_peak, amplitude + 1e-6 * rank, 0.0), sigma_px,
                                            cfg.peak_merge_frac)

    # ---- compose the dense detections of every ground-truth person
    status = np.where(in_image, int(JointStatus.CORRECT), np.where(front, int(JointStatus.OUT_OF_IMAGE),
                                                                     int(JointStatus.ABSENT))).astype(np.int8)
    if not cfg.drop_out_of_image:
        status = np.where(front, int(JointStatus.CORRECT), int(JointStatus.ABSENT)).astype(np.int8)
    src_person = np.broadcast_to(p_idx, (T, V, P, J)).copy()
    src_joint = np.broadcast_to(j_idx, (T, V, P, J)).copy()
    det_uv = uv + pull + jitter
    gross_live = (gross_cat > 0) & (status == JointStatus.CORRECT)
    # swap: own mirror joint
    swap = gross_live & (gross_cat == 1)
    src_joint = np.where(swap, flip[j_idx], src_joint)
    # on other person: same / mirror / nearest joint of the nearest other person
    other = gross_live & (gross_cat == 2)
    other_joint = np.where(relation == 0, j_idx, np.where(relation == 1, flip[j_idx], other_nearest_joint))
    src_person = np.where(other, nearest_other, src_person)
    src_joint = np.where(other, other_joint, src_joint)
    # on own other joint: a bone neighbour
    neighbours = _bone_neighbours()  # (J, 4)
    degree = (neighbours >= 0).sum(-1)  # (J,)
    pick = np.minimum((own_u * degree[j_idx]).astype(np.int64), degree[j_idx] - 1)
    own = gross_live & (gross_cat == 3)
    src_joint = np.where(own, neighbours[np.broadcast_to(j_idx, pick.shape), pick], src_joint)
    moved = swap | other | own
    det_uv = np.where(moved[..., None], uv[t_idx, v_idx, src_person, src_joint] + jitter, det_uv)
    src_ok = in_image[t_idx, v_idx, src_person, src_joint]
    # elsewhere: a fixed displacement for the run
    elsewhere = gross_live & (gross_cat == 4)
    offset = np.stack([np.cos(angle), np.sin(angle)], -1) * (magnitude * size0)[..., None]
    det_uv = np.where(elsewhere[..., None], det_uv + offset, det_uv)
    category_status = np.array([JointStatus.CORRECT, JointStatus.SWAP, JointStatus.ON_OTHER_PERSON,
                                JointStatus.ON_OWN_OTHER_JOINT, JointStatus.ELSEWHERE], dtype=np.int8)
    status = np.where(gross_live & (src_ok | elsewhere), category_status[gross_cat], status)
    src_person = np.where(elsewhere, -1, src_person)
    src_joint = np.where(elsewhere, -1, src_joint)
    # scores by category (before swaps reorder joints)
    tables = {JointStatus.CORRECT: cfg.score_correct, JointStatus.SWAP: cfg.score_swap,
              JointStatus.ON_OTHER_PERSON: cfg.score_other_person, JointStatus.ON_OWN_OTHER_JOINT: cfg.score_own_other_joint,
              JointStatus.ELSEWHERE: cfg.score_elsewhere, JointStatus.MERGED: cfg.score_other_person}
    score = np.zeros((T, V, P, J))
    for code, table in tables.items():
        sel = status == code
        if sel.any():
            score[sel] = np.interp(rank[sel], SCORE_LEVELS, table)
    score = np.where(occluded, score * cfg.occluded_score_scale, score)
    # joint misses: the detector's own, and peaks lost to another person's of the same type
    peak_lost &= status == JointStatus.CORRECT
    missed = (joint_missed | peak_lost) & (status >= JointStatus.CORRECT)
    status = np.where(missed, int(JointStatus.MISSED), status).astype(np.int8)
    # whole-limb swaps and person mirrors: permute joints (positions, scores, bookkeeping together)
    perm = np.broadcast_to(np.arange(J), (T, V, P, J)).copy()
    for k, (la, ra, lb, rb) in enumerate(_LIMBS):
        idx = COCO17.indices([la, ra, lb, rb])
        sw = limb_swapped[..., k][..., None]
        perm[..., idx] = np.where(sw, perm[..., idx[[1, 0, 3, 2]]], perm[..., idx])
    perm = np.where(mirrored[..., None], perm[..., flip], perm)
    permuted = perm != np.arange(J)
    det_uv = np.take_along_axis(det_uv, perm[..., None], 3)
    score = np.take_along_axis(score, perm, 3)
    status = np.take_along_axis(status, perm, 3)
    src_person = np.take_along_axis(src_person, perm, 3)
    src_joint = np.take_along_axis(src_joint, perm, 3)
    status = np.where(permuted & (status == JointStatus.CORRECT), int(JointStatus.SWAP), status).astype(np.int8)
    # merges: the end of one limb (elbow + wrist or knee + ankle) taken from the partner's detection
    limb_mask = np.zeros((len(_MERGE_LIMBS), J), dtype=bool)
    for k, names in enumerate(_MERGE_LIMBS):
        limb_mask[k, COCO17.indices(names)] = True
    take = merged[..., None] & limb_mask[merge_limb][None]  # (T, V, P, J)
    partner = merge_partner[..., None]  # (T, V, P, 1)
    p_uv = det_uv[t_idx, v_idx, partner, j_idx]
    p_status = status[t_idx, v_idx, partner, j_idx]
    take &= p_status >= JointStatus.CORRECT
    det_uv = np.where(take[..., None], p_uv, det_uv)
    score = np.where(take, np.interp(rank, SCORE_LEVELS, cfg.score_other_person), score)
    src_person = np.where(take, src_person[t_idx, v_idx, partner, j_idx], src_person)
    src_joint = np.where(take, src_joint[t_idx, v_idx, partner, j_idx], src_joint)
    status = np.where(take, int(JointStatus.MERGED), status).astype(np.int8)
    merged_with = np.where(take.any(-1), merge_partner, -1)
    # border truncation of displaced joints
    detected = status >= JointStatus.CORRECT
    if cfg.drop_out_of_image:
        inside = np.all((det_uv >= -0.5) & (det_uv <= sizes - 0.5), axis=-1)
        status = np.where(detected & ~inside, int(JointStatus.OUT_OF_IMAGE), status).astype(np.int8)
        detected &= inside
    # person-level decisions
    n_det = detected.sum(-1)
    keep_person = person_present & ~person_missed & (n_det >= max(cfg.min_person_joints, 1))
    keep_person &= n_in >= cfg.min_in_image_frac * present.sum(-1)[:, None, :]
    keypoints = np.concatenate([np.where(detected[..., None], det_uv, 0.0), np.where(detected, score, 0.0)[..., None]], -1)
    src_joint_pair = np.stack([np.where(detected, src_person, -1), np.where(detected, src_joint, -1)], -1)

    # ---- per view-frame lists, with false people
    fp_counts = rng.poisson(cfg.false_people_per_view, (T, V)) if cfg.false_people_per_view > 0 else np.zeros((T, V), int)
    detection_index = np.full((T, V, P), -1, dtype=np.int64)
    fake_mix = np.cumsum(cfg.false_people_mix) / max(sum(cfg.false_people_mix), 1e-12)  # (3,) cumulative shares
    out_kp, out_src, out_joint, out_status = [], [], [], []
    for t in range(T):
        kp_t, src_t, joint_t, status_t = [], [], [], []
        for v in range(V):
            rows = np.flatnonzero(keep_person[t, v])
            if fp_counts[t, v] == 0:  # the common case: only real people, one gather
                src = rows[rng.permutation(len(rows))] if cfg.shuffle_people else rows
                kp, sj, st = keypoints[t, v][src], src_joint_pair[t, v][src], status[t, v][src]
                detection_index[t, v, src] = np.arange(len(src))
            else:
                kp, src, sj, st = [keypoints[t, v, rows]], [rows], [src_joint_pair[t, v, rows]], [status[t, v, rows]]
                for _ in range(int(fp_counts[t, v])):
                    fake = _false_person(uv[t, v], in_image[t, v], person_size[t, v], rig.image_sizes[v], cfg, fake_mix, rng)
                    if fake is not None:
                        kp.append(fake[None])
                        src.append(np.array([-1]))
                        sj.append(np.full((1, J, 2), -1))
                        st.append(np.where(fake[None, :, 2] > 0, int(JointStatus.FALSE_POSITIVE), int(JointStatus.ABSENT)).astype(np.int8))
                kp, src, sj, st = np.concatenate(kp), np.concatenate(src), np.concatenate(sj), np.concatenate(st)
                order = rng.permutation(len(src)) if cfg.shuffle_people else np.arange(len(src))
                kp, src, sj, st = kp[order], src[order], sj[order], st[order]
                real = src >= 0
                detection_index[t, v, src[real]] = np.nonzero(real)[0]
            kp_t.append(kp)
            src_t.append(src)
            joint_t.append(sj)
            status_t.append(st)
        out_kp.append(tuple(kp_t))
        out_src.append(tuple(src_t))
        out_joint.append(tuple(joint_t))
        out_status.append(tuple(status_t))

    detections = Detections2D(camera_names=rig.names, frames=frames, keypoints=tuple(out_kp))
    uv_gt = np.where(front[..., None], uv, np.nan)
    trace = SimulationTrace(
        uv_gt_px=uv_gt, in_image=in_image, occluded=occluded, self_occluded=self_occluded, person_size_px=person_size,
        jitter_px=jitter, person_missed=person_missed & person_present, mirrored=mirrored, limb_swapped=limb_swapped,
        merged_with=merged_with, detection_index=detection_index, source_person=tuple(out_src),
        source_joint=tuple(out_joint), joint_status=tuple(out_status), pull_px=pull, peak_lost=peak_lost,
    )
    return detections, trace


def peak_interference(uv_px: np.ndarray, amplitude: np.ndarray, sigma_px: np.ndarray, merge_frac: float = 0.25,
                      iterations: int = 40, reach_sigmas: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Where a heatmap detector puts the peaks of same-type joints of several people in one image.

    Each person ``p``'s joint ``j`` is a Gaussian blob of amplitude ``a_pj`` and width ``sigma_p`` centred on its true
    projection; the heatmap of joint type ``j`` is their sum. The detected peak of ``(p, j)`` is the local maximum
    reached from its own position by fixed-point (mean-shift) ascent,
    ``x <- sum_q w_q c_q / sum_q w_q``, ``w_q = a_qj / sigma_q^2 exp(-|x - c_q|^2 / (2 sigma_q^2))``. Two equal
    blobs closer than ``2 sigma`` have one maximum (half way); a little further apart each maximum is pulled
    towards the other. Maxima ending within ``merge_frac x sigma`` of each other are one peak: the person with the
    larger amplitude keeps it, the others lose it.

    Args:
        uv_px: ``(..., P, J, 2)`` true projections, px.
        amplitude: ``(..., P, J)`` blob amplitudes (scores); 0 = no blob (missing, out of image).
        sigma_px: ``(..., P)`` blob width of each person, px.
        merge_frac: maxima closer than this x sigma are one peak.
        iterations: ascent steps (ample: it converges geometrically except right at the split distance).
        reach_sigmas: only blobs within this many sigmas of each other interact.

    Returns:
        ``pull (..., P, J, 2)`` px (peak minus true projection; 0 where no blob) and ``lost (..., P, J)`` bool.

    Example:
        >>> uv = np.array([[[0.0, 0.0]], [[10.0, 0.0]]])          # (P=2, J=1, 2): two wrists 10 px apart
        >>> pull, lost = peak_interference(uv, np.array([[1.0], [0.9]]), np.array([10.0, 10.0]))
        >>> pull[:, 0].round(1).tolist(), lost[:, 0].tolist()    # one blob, near the stronger wrist; it keeps it
        ([[4.6, 0.0], [-5.4, 0.0]], [False, True])
        >>> pull, lost = peak_interference(uv * 5, np.array([[1.0], [0.9]]), np.array([10.0, 10.0]))
        >>> bool(np.abs(pull).max() < 0.5), bool(lost.any())     # 50 px apart: two clean peaks
        (True, False)
    """
    uv_px = np.asarray(uv_px, dtype=float)
    amplitude = np.asarray(amplitude, dtype=float)
    sigma_px = np.asarray(sigma_px, dtype=float)
    P, J = uv_px.shape[-3:-1]
    pull = np.zeros(uv_px.shape)
    lost = np.zeros(amplitude.shape, dtype=bool)
    if P < 2:
        return pull, lost
    flat_uv = uv_px.reshape(-1, P, J, 2)  # (N, P, J, 2), N = images
    flat_a = np.where(amplitude > 0, amplitude, 0.0).reshape(-1, P, J)  # (N, P, J)
    flat_s = np.maximum(np.broadcast_to(sigma_px[..., None], amplitude.shape).reshape(-1, P, J), 1e-9)  # (N, P, J)
    # candidate (image, joint type): two people's blobs of that type within reach of each other
    pa, pb = np.triu_indices(P, 1)  # (K,) each
    gap = flat_uv[:, pa] - flat_uv[:, pb]  # (N, K, J, 2)
    reach = reach_sigmas * np.maximum(flat_s[:, pa], flat_s[:, pb])  # (N, K, J)
    near = (gap[..., 0] ** 2 + gap[..., 1] ** 2 < reach * reach) & (flat_a[:, pa] > 0) & (flat_a[:, pb] > 0)
    cand = np.zeros(flat_a.shape, dtype=bool)  # (N, P, J) blobs with another within reach
    for k in range(len(pa)):
        cand[:, pa[k]] |= near[:, k]
        cand[:, pb[k]] |= near[:, k]
    n_img, j_img = np.nonzero(near.any(1))  # (I,) images x joint types that interfere
    if n_img.size == 0:
        return pull, lost
    centres = flat_uv[n_img, :, j_img]  # (I, Q, 2) every person's blob of that type
    amp = flat_a[n_img, :, j_img]  # (I, Q)
    inv_var = 1.0 / flat_s[n_img, :, j_img] ** 2  # (I, Q)
    weight0 = amp * inv_var
    # ascend from every blob of those images at once: x (I, P, 2)
    x = centres.copy()
    active = np.arange(len(n_img))  # images still moving (most settle in a few steps)
    for _ in range(iterations):
        c, iv, w0, xa = centres[active], inv_var[active], weight0[active], x[active]
        r2 = ((xa[:, :, None, :] - c[:, None, :, :]) ** 2).sum(-1)  # (A, P, Q)
        w = w0[:, None, :] * np.exp(-0.5 * r2 * iv[:, None, :])
        x_new = np.einsum("ipq,iqk->ipk", w, c) / np.maximum(w.sum(-1), 1e-300)[..., None]
        x[active] = x_new
        active = active[np.abs(x_new - xa).max((1, 2)) > 1e-4]
        if active.size == 0:
            break
    # maxima that coincide are one peak: the larger amplitude keeps it
    gap2 = ((x[:, :, None, :] - x[:, None, :, :]) ** 2).sum(-1)  # (I, P, Q)
    tol = merge_frac / np.sqrt(np.maximum(inv_var[:, :, None], inv_var[:, None, :]))  # merge_frac x the smaller sigma
    same = (gap2 < tol * tol) & (amp[:, :, None] > 0) & (amp[:, None, :] > 0)
    lost_img = (same & (amp[:, None, :] > amp[:, :, None])).any(-1)  # (I, P)
    has = cand[n_img, :, j_img]  # (I, P) only blobs with a neighbour in reach move
    flat_pull = np.zeros(flat_uv.shape)
    flat_pull[n_img, :, j_img] = np.where(has[..., None], x - centres, 0.0)
    flat_lost = np.zeros(flat_a.shape, dtype=bool)
    flat_lost[n_img, :, j_img] = lost_img & has
    return flat_pull.reshape(uv_px.shape), flat_lost.reshape(amplitude.shape)


def _gross_chain(pi: np.ndarray, p_stay: float, u: np.ndarray, new_cat: np.ndarray, possible_new: np.ndarray,
                 reachable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gross-error chains over axis 0: ``(T, ...)`` category (0 = none) and the frame index of the run's start.

    A run starts with probability ``pi / (1 - pi) * (1 - p_stay)`` (stationary ``pi`` at frame 0) if its
    pre-drawn category is possible then; it goes on with ``p_stay`` while an on-other-person error still
    has a person within reach.
    """
    enter_p, stay_p = _entry_and_stay(pi, p_stay)
    cat = np.zeros(u.shape[1:], dtype=np.int64)
    start = np.full(u.shape[1:], -1, dtype=np.int64)
    cats = np.empty(u.shape, dtype=np.int64)
    starts = np.empty(u.shape, dtype=np.int64)
    for t in range(u.shape[0]):
        threshold = pi[t] if t == 0 else enter_p[t]
        enter = (cat == 0) & (u[t] < threshold) & possible_new[t]
        stay = (cat > 0) & (u[t] < stay_p[t]) & ~((cat == 2) & ~reachable[t])
        cat = np.where(enter, new_cat[t], np.where(stay, cat, 0))
        start = np.where(enter, t, np.where(stay, start, -1))
        cats[t] = cat
        starts[t] = start
    return cats, starts


def _false_person(uv: np.ndarray, in_image: np.ndarray, person_size: np.ndarray, image_size: np.ndarray,
                  cfg: NoiseConfig, mix_cum: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """One false partial person ``(J, 3)`` for one view-frame, from the people there (``uv (P, J, 2)``); None if nobody
    to copy. ``mix_cum (3,)``: cumulative shares of ``cfg.false_people_mix``."""
    J = COCO17.num_joints
    candidates = np.flatnonzero(in_image.sum(-1) >= 3)
    if candidates.size == 0:
        return None
    p = int(candidates[rng.integers(candidates.size)])  # the draw of rng.choice(candidates)
    size = float(person_size[p])
    n = min(max(int(rng.poisson(cfg.false_people_mean_joints)), 3), J)
    # a connected set of joints around a random seed joint (joints nearest to it on the template)
    seed = int(rng.integers(J))
    order = np.argsort(np.linalg.norm(uv[p] - uv[p, seed], axis=-1) + rng.random(J) * 0.05 * size)
    chosen = order[:n]
    pose = uv[p]
    kind = int((rng.random() > mix_cum[:-1]).sum())
    if kind == 0:  # background: the pose shape somewhere else, rescaled
        centre = pose[chosen].mean(0)
        target = rng.uniform([0, 0], image_size - 1)
        pose = (pose - centre) * rng.uniform(0.5, 1.2) + target
    elif kind == 1:  # near the person, off its joints: 0.2-0.5 x size away
        angle = rng.uniform(0, 2 * np.pi)
        pose = pose + rng.uniform(0.2, 0.5) * size * np.array([np.cos(angle), np.sin(angle)])
    else:  # on the person: a displaced fragment / duplicate
        pose = pose + rng.normal(0, 0.05 * size, 2)
    pose = pose + rng.normal(0, 0.02 * size, (J, 2))
    use = np.zeros(J, dtype=bool)
    use[chosen] = True
    use &= ((pose >= -0.5) & (pose <= image_size - 0.5)).all(-1)
    if use.sum() < 3:
        return None
    score = np.interp(rng.random(J), SCORE_LEVELS, cfg.score_false_person)
    out = np.zeros((J, 3))
    out[use, :2] = pose[use]
    out[use, 2] = score[use]
    return out


__all__ = ["NoiseConfig", "SimulationTrace", "JointStatus", "simulate_detections", "occlusion_masks", "per_joint",
           "peak_interference", "head_top", "HEAD_TOP_RATIO", "GROUPS", "JOINT_GROUP", "EFFECTS", "SCORE_LEVELS"]
