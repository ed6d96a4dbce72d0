"""data_scripts: offline processing of local stand-in videos, resume, failures, CLI."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from data_scripts import bair
from data_scripts import synthetic as synthetic_script
from data_scripts import taichi, voxceleb
from pcutlib.data.datasets import FramesDataset

REPO = Path(__file__).resolve().parent.parent
HEADER = "video_id,start,end,bbox,fps,width,height,partition,person_id\n"


def moving_square_video(path, frames=40, fps=25):
    """An 80x64 mp4 (the 'downloaded' copy) with a square sliding right."""
    video = np.full((frames, 64, 80, 3), 50, np.uint8)
    for t in range(frames):
        video[t, 20:40, 10 + t:30 + t] = (200, 80, 40)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, video, fps=fps)
    return path


@pytest.fixture
def vox_setup(tmp_path):
    moving_square_video(tmp_path / "local" / "vidA.mp4")
    metadata = tmp_path / "vox.csv"
    # Reference size 160x128 is twice the local copy: boxes are halved.
    metadata.write_text(HEADER
                        + "vidA,0,10,0-0-80-64,25,160,128,train,id10001\n"
                        + "vidA,10,30,20-10-100-90,25,160,128,test,id10001\n"
                        + "goneVideo,0,10,0-0-10-10,25,160,128,train,id10002\n")
    return tmp_path, metadata


def vox_args(tmp_path, metadata, *extra):
    return ["--metadata", str(metadata), "--out", str(tmp_path / "out"), "--size", "32",
            "--local-videos", str(tmp_path / "local"), "--no-download", *extra]


def test_voxceleb_crops_resume_and_failures(vox_setup, capsys):
    tmp_path, metadata = vox_setup
    assert voxceleb.main(vox_args(tmp_path, metadata)) == 0
    out = tmp_path / "out"
    train_video = out / "train" / "id10001#vidA#000000#000010"
    assert len(list(train_video.glob("*.png"))) == 10
    assert len(list((out / "test" / "id10001#vidA#000010#000030").glob("*.png"))) == 20
    assert "goneVideo" in (out / "failures.txt").read_text()
    assert "FAILED goneVideo" in capsys.readouterr().out

    # The first crop is the top-left 40x32 quarter of the copy, resized to 32x32.
    first = iio.imread(sorted(train_video.glob("*.png"))[0])
    assert first.shape == (32, 32, 3)
    assert first[16, 20].tolist() != first[2, 2].tolist()  # square (x 10..30) vs background

    train = FramesDataset(out, frame_shape=(32, 32, 3), id_sampling=True)
    assert train[0]["source"].shape == (3, 32, 32) and train[0]["name"].startswith("id10001#")
    test = FramesDataset(out, frame_shape=(32, 32, 3), is_train=False)
    assert test[0]["video"].shape == (20, 3, 32, 32)

    assert voxceleb.main(vox_args(tmp_path, metadata)) == 0  # resume: nothing rewritten
    assert "written: 0, already done: 2, failed: 1" in capsys.readouterr().out


def test_taichi_frame_rate_mapping_and_mp4_output(tmp_path):
    moving_square_video(tmp_path / "local" / "tc1.mp4", fps=25)
    metadata = tmp_path / "taichi.csv"
    # Reference 50 fps: frames 0..20 there are frames 0..10 of the 25 fps copy.
    metadata.write_text("video_id,start,end,bbox,fps,width,height,partition\n"
                        "tc1,0,20,0-0-80-64,50,80,64,train\ntc1,20,40,0-0-80-64,50,80,64,test\n")
    args = ["--metadata", str(metadata), "--out", str(tmp_path / "out"), "--size", "32",
            "--format", "mp4", "--local-videos", str(tmp_path / "local"), "--no-download"]
    assert taichi.main(args) == 0
    for split, name in (("train", "tc1#000000#000020.mp4"), ("test", "tc1#000020#000040.mp4")):
        frames = iio.imread(tmp_path / "out" / split / name, index=None)
        assert frames.shape == (10, 32, 32, 3)
    assert (tmp_path / "out" / "failures.txt").read_text() == ""
    assert FramesDataset(tmp_path / "out", frame_shape=(32, 32, 3), is_train=False)[0]["video"].shape[0] == 10


def test_metadata_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text("video_id,start,end,bbox,fps,width,height,partition\nv,0,10,1-2-3,25,8,8,train\n")
    with pytest.raises(ValueError, match="broken.csv.*line 2.*bbox"):
        taichi.main(["--metadata", str(bad), "--out", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="broken.csv.*person_id"):
        voxceleb.main(["--metadata", str(bad), "--out", str(tmp_path / "o")])


def run_script(name, *args):
    return subprocess.run([sys.executable, str(REPO / "data_scripts" / name), *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_scripts_help_and_dry_run(vox_setup):
    for name in ("voxceleb.py", "taichi.py", "bair.py"):
        result = run_script(name, "--help")
        assert result.returncode == 0 and "--dry-run" in result.stdout and "--local-videos" in result.stdout
    tmp_path, metadata = vox_setup
    result = run_script("voxceleb.py", *vox_args(tmp_path, metadata, "--dry-run"))
    assert result.returncode == 0, result.stderr
    assert "id10001#vidA#000000#000010" in result.stdout and "would write: 2" in result.stdout
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


def make_extracted_bair(root):
    rng = np.random.default_rng(0)
    for split, count in (("train", 2), ("test", 1)):
        for k in range(count):
            folder = root / split / f"traj_{k}"
            folder.mkdir(parents=True)
            for t in range(5):
                iio.imwrite(folder / f"{t:02d}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    return root


def test_bair_from_extracted_frames(tmp_path, capsys):
    source = make_extracted_bair(tmp_path / "extracted")
    (source / "train" / "empty_traj").mkdir()
    args = ["--local-videos", str(source), "--out", str(tmp_path / "out"), "--size", "32"]
    assert bair.main(args) == 0
    assert len(list((tmp_path / "out" / "train" / "traj_1").glob("*.png"))) == 5
    assert "empty_traj" in (tmp_path / "out" / "failures.txt").read_text()
    item = FramesDataset(tmp_path / "out", frame_shape=(32, 32, 3), is_train=False)[0]
    assert item["video"].shape == (5, 3, 32, 32)
    assert bair.main(args) == 0
    assert "already done: 3" in capsys.readouterr().out


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None, reason="tensorflow is installed")
def test_bair_tfrecords_without_tensorflow_says_so(tmp_path):
    (tmp_path / "tf" / "train").mkdir(parents=True)
    (tmp_path / "tf" / "test").mkdir()
    (tmp_path / "tf" / "train" / "traj_0_to_255.tfrecords").write_bytes(b"\0" * 16)
    with pytest.raises(SystemExit, match="tensorflow"):
        bair.main(["--tfrecords", str(tmp_path / "tf"), "--out", str(tmp_path / "out")])


def test_synthetic_wrapper(tmp_path, capsys):
    out = tmp_path / "syn"
    assert synthetic_script.main(["--out", str(out), "--videos", "3", "--frames", "3", "--size", "16",
                                  "--dry-run"]) == 0
    assert not out.exists() and "would write 3 videos" in capsys.readouterr().out
    assert synthetic_script.main(["--out", str(out), "--videos", "3", "--frames", "3", "--size", "16",
                                  "--no-progress"]) == 0
    assert FramesDataset(out, frame_shape=(16, 16, 3))[0]["source"].shape == (3, 16, 16)
