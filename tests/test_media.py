"""closecap.io.media: camera <-> file name matching, alignment of unequal lengths, unreadable files, image folders."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.errors import InputError
from closecap.io.media import canonical_name, common_length, find_media, iter_frames, natural_key


def write_video(path: Path, num_frames: int, size=(32, 24)) -> None:
    """A tiny MJPG video whose frame i is uniformly grey level 10 * i."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for i in range(num_frames):
        writer.write(np.full((size[1], size[0], 3), 10 * i, np.uint8))
    writer.release()


def write_images(folder: Path, num_frames: int, names=None) -> None:
    folder.mkdir(parents=True)
    for i in range(num_frames):
        name = names[i] if names else f"frame{i}.png"
        cv2.imwrite(str(folder / name), np.full((6, 8, 3), 10 * i, np.uint8))


def test_video_names_differing_in_spelling_match_and_are_logged(tmp_path, caplog):
    write_video(tmp_path / "cam01.avi", 3)
    write_video(tmp_path / "CAM-2.avi", 3)
    write_video(tmp_path / "cam_03.avi", 3)
    with caplog.at_level(logging.INFO, logger="closecap.io.media"):
        sources = find_media(tmp_path, ["cam_01", "cam_2", "cam_03"])
    assert [s.path.name for s in sources] == ["cam01.avi", "CAM-2.avi", "cam_03.avi"]
    assert [s.camera for s in sources] == ["cam_01", "cam_2", "cam_03"]
    renamed = [r.getMessage() for r in caplog.records if "spelling" in r.getMessage()]
    assert len(renamed) == 2 and "cam01.avi" in renamed[0] and "CAM-2.avi" in renamed[1]  # exact match not logged
    assert (sources[0].width, sources[0].height, sources[0].num_frames) == (32, 24, 3)


@given(st.sampled_from(["cam", "Camera", "c"]), st.integers(0, 120), st.sampled_from(["", "_", "-", " ", "."]),
       st.integers(0, 3), st.booleans())
@settings(max_examples=60, deadline=None)
def test_canonical_name_ignores_case_separators_and_padding(prefix, number, sep, pad, upper):
    spelled = f"{prefix}{sep}{number:0{pad + len(str(number))}d}"
    spelled = spelled.upper() if upper else spelled
    assert canonical_name(spelled) == canonical_name(f"{prefix.lower()}{number}")
    assert canonical_name(spelled) != canonical_name(f"{prefix}{number + 1}")


def test_ambiguous_and_missing_cameras(tmp_path, caplog):
    write_video(tmp_path / "cam1.avi", 2)
    write_video(tmp_path / "cam_01.avi", 2)
    with pytest.raises(InputError, match="several sources"):
        find_media(tmp_path, ["CAM-1"])
    with pytest.raises(InputError, match="cam9: no video file or image folder"):
        find_media(tmp_path, ["cam1", "cam9"])
    with caplog.at_level(logging.WARNING, logger="closecap.io.media"):
        sources = find_media(tmp_path, ["cam1", "cam9"], allow_missing=True)
    assert [s.camera for s in sources] == ["cam1"]
    assert any("cam9" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)


def test_unequal_lengths_use_the_common_prefix_and_warn(tmp_path, caplog):
    write_video(tmp_path / "a.avi", 5)
    write_images(tmp_path / "b", 3)
    with caplog.at_level(logging.WARNING, logger="closecap.io.media"):
        sources = find_media(tmp_path, ["a", "b"])
    assert any("different numbers of frames" in r.getMessage() for r in caplog.records)
    assert common_length(sources) == 3
    frames = list(iter_frames(sources))
    assert [i for i, _ in frames] == [0, 1, 2]
    for i, (video_image, folder_image) in ((i, imgs) for i, imgs in frames):
        assert abs(int(video_image.mean()) - 10 * i) <= 3  # MJPG is lossy
        assert int(folder_image[0, 0, 0]) == 10 * i
        assert video_image.shape == (24, 32, 3) and folder_image.shape == (6, 8, 3)
    # start / stop select a window of the common prefix
    assert [i for i, _ in iter_frames(sources, start=1, stop=10)] == [1, 2]


def test_unreadable_video_names_the_file(tmp_path):
    (tmp_path / "cam1.mp4").write_bytes(b"this is not a video")
    with pytest.raises(InputError) as err:
        find_media(tmp_path, ["cam1"])
    assert "cam1.mp4" in str(err.value) and "video" in str(err.value)


def test_unreadable_image_names_the_file(tmp_path):
    write_images(tmp_path / "cam1", 2)
    (tmp_path / "cam1" / "frame0.png").write_bytes(b"broken")
    with pytest.raises(InputError, match="frame0.png"):
        find_media(tmp_path, ["cam1"])


def test_image_folders_are_read_in_natural_order(tmp_path):
    names = ["img1.png", "img2.png", "img10.png", "img11.jpg"]  # lexicographic order would put img10 before img2
    write_images(tmp_path / "view_1", 4, names)
    (tmp_path / "view_1" / "notes.txt").write_text("ignored")
    (sources,) = find_media(tmp_path, ["view1"])
    assert sources.kind == "images" and [p.name for p in sources.images] == names
    levels = [int(images[0][0, 0, 0]) for _, images in iter_frames([sources])]
    assert levels == [0, 10, 20, 30]


def test_missing_folder_and_natural_key():
    with pytest.raises(InputError, match="expected a folder"):
        find_media("/nonexistent/videos", ["a"])
    assert sorted(["b10", "b9", "a100", "B1"], key=natural_key) == ["a100", "B1", "b9", "b10"]
