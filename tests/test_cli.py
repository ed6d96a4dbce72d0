"""The pcut command's contract: one-line errors naming the path and cause, exit 2 for usage
errors and 1 for runtime errors, --version, a description on every subcommand's --help."""
import errno
import os

import pytest
import torch

from pcutlib import cli
from pcutlib.checkpoints.files import CheckpointError, safe_torch_load


class Payload:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


@pytest.fixture
def bad_checkpoints(tmp_path):
    torch.save({"kp_detector": Payload()}, tmp_path / "malicious.pt")
    (tmp_path / "text.pt").write_text("just text\n")
    torch.save({"a": torch.ones(100)}, tmp_path / "whole.pt")
    whole = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(whole[: len(whole) // 2])
    return tmp_path


@pytest.mark.parametrize("name, words", [("malicious", "refused: unsupported GLOBAL posix.system"),
                                         ("text", "not a PyTorch checkpoint"),
                                         ("truncated", "not a PyTorch checkpoint")])
def test_bad_checkpoints_exit_1_with_one_line(bad_checkpoints, capsys, name, words):
    path = bad_checkpoints / f"{name}.pt"
    with pytest.raises(CheckpointError, match=words):
        safe_torch_load(path)
    for argv in (["animate", "--checkpoint", str(path), "--source", "s.png", "--driving", "d.mp4", "--out", "o.mp4"],
                 ["diagnose", "--checkpoint", str(path), "--data", str(bad_checkpoints)]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(path) in err and words in err, err
        if name == "malicious":
            assert err.endswith("(refused: unsupported GLOBAL posix.system)")


@pytest.mark.parametrize("error, code, words", [
    (OSError(errno.ENOSPC, "No space left on device", "runs/x/checkpoints/last.pt"), 1,
     "No space left on device: runs/x/checkpoints/last.pt"),
    (PermissionError(errno.EACCES, "Permission denied", "runs/x"), 1, "Permission denied: runs/x"),
    (FileExistsError("run folder 'runs/x' already holds a run"), 2, "already holds a run"),
    (ValueError("config key 'a.b' must be at least 1, got 0"), 2, "'a.b'"),
    (FloatingPointError("training diverged at step 3"), 1, "diverged"),
])
def test_errors_map_to_exit_codes(monkeypatch, capsys, error, code, words):
    def fail(args):
        raise error
    monkeypatch.setattr(cli, "run_train", fail)
    assert cli.main(["train"]) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("pcut train: error: ") and words in err and len(err.splitlines()) == 1, err
    with pytest.raises(type(error)):
        cli.main(["--debug", "train"])


def test_version_and_subcommand_descriptions(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("pcut ")
    parser = cli.build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"train", "animate", "diagnose", "reconstruct", "demo"} <= set(subcommands)
    for name, sub in subcommands.items():
        assert sub.description, f"pcut {name} --help has no description"
        undocumented = [a.option_strings[0] for a in sub._actions if a.option_strings and not a.help]
        assert not undocumented, f"pcut {name}: flags without help text: {undocumented}"


@pytest.mark.parametrize("shape", [(64, 64, 3), (64, 128, 3), (128, 96, 4), (40, 50)])
def test_animate_takes_one_source_image_of_any_size(tmp_path, capsys, shape):
    import imageio.v3 as iio
    import numpy as np

    from pcutlib.paths import pretrained_path

    rng = np.random.default_rng(0)
    iio.imwrite(tmp_path / "source.png", rng.integers(0, 255, shape, dtype=np.uint8))
    driving = rng.integers(0, 255, (64, 64 * 3, 3), dtype=np.uint8)           # a 3-frame strip
    iio.imwrite(tmp_path / "driving.png", driving)
    out = tmp_path / "out.gif"
    assert cli.main(["animate", "--checkpoint", str(pretrained_path()), "--source", str(tmp_path / "source.png"),
                     "--driving", str(tmp_path / "driving.png"), "--out", str(out), "--panel", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    written = iio.imread(out.with_suffix(".png"))
    assert written.shape[0] == 64 and written.shape[1] == 3 * 64 * 3          # 3 frames of source|driving|result
    assert ("resized" in captured.err) == (shape[:2] != (64, 64))
    assert ("alpha" in captured.err) == (len(shape) == 3 and shape[2] == 4)


def test_animate_source_frame_of_a_strip(tmp_path, capsys):
    import imageio.v3 as iio
    import numpy as np

    from pcutlib.paths import pretrained_path

    strip = np.random.default_rng(1).integers(0, 255, (64, 64 * 4, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "video.png", strip)
    argv = ["animate", "--checkpoint", str(pretrained_path()), "--source", str(tmp_path / "video.png"),
            "--driving", str(tmp_path / "video.png"), "--out", str(tmp_path / "out.gif"), "--device", "cpu"]
    assert cli.main(argv + ["--source-frame", "2"]) == 0
    assert iio.imread(tmp_path / "out.png").shape == (64, 4 * 64, 3)
    assert cli.main(argv + ["--source-frame", "4", "--overwrite"]) == 2
    assert "has 4 frames (0..3)" in capsys.readouterr().err


@pytest.mark.slow
def test_no_command_replaces_earlier_results_silently(tmp_path, capsys):
    """animate, reconstruct, evaluate and diagnose refuse to write over an existing result
    (exit 2, one line naming the file) unless --overwrite, and leave the file as it was."""
    import imageio.v3 as iio
    import numpy as np

    from pcutlib.data.make_synthetic import make_synthetic_dataset
    from pcutlib.paths import pretrained_path

    world = make_synthetic_dataset(tmp_path / "world", videos=4, frames=3, size=64, identities=2, progress=False)
    strip = np.random.default_rng(2).integers(0, 255, (64, 64 * 3, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "video.png", strip)
    shipped = str(pretrained_path())
    first_test = sorted((world / "test").glob("*.png"))[0].stem
    outputs = {
        "animate": (["animate", "--checkpoint", shipped, "--source", str(tmp_path / "video.png"), "--driving",
                     str(tmp_path / "video.png"), "--out", str(tmp_path / "anim.gif")], tmp_path / "anim.gif"),
        "reconstruct": (["reconstruct", "--checkpoint", shipped, "--data", str(world), "--out", str(tmp_path / "rec"),
                         "--max-videos", "1"], tmp_path / "rec" / f"{first_test}.mp4"),
        "evaluate": (["evaluate", "--checkpoint", shipped, "--data", str(world), "--out", str(tmp_path / "eval"),
                      "--max-videos", "1", "--no-progress"], tmp_path / "eval" / "metrics.json"),
        "diagnose": (["diagnose", "--checkpoint", shipped, "--data", str(world), "--json", str(tmp_path / "d.json"),
                      "--max-videos", "1", "--no-progress"], tmp_path / "d.json"),
    }
    for command, (argv, written) in outputs.items():
        argv = argv + ["--device", "cpu"]
        assert cli.main(argv) == 0, command
        assert written.is_file(), command
        written.write_text("an earlier result")
        capsys.readouterr()
        assert cli.main(argv) == 2, command
        error = capsys.readouterr().err.strip()
        assert error.startswith(f"pcut {command}: error: ") and str(written) in error and "--overwrite" in error, error
        assert len(error.splitlines()) == 1 and written.read_text() == "an earlier result", command
        assert cli.main(argv + ["--overwrite"]) == 0, command
        assert written.read_bytes() != b"an earlier result", command


def test_animate_says_every_resize_and_which_data_the_model_knows(tmp_path, capsys):
    import imageio.v3 as iio
    import numpy as np

    from pcutlib.paths import pretrained_path

    rng = np.random.default_rng(3)
    iio.imwrite(tmp_path / "photo.png", rng.integers(0, 255, (96, 80, 3), dtype=np.uint8))
    iio.imwrite(tmp_path / "driving.gif", rng.integers(0, 255, (3, 96, 128, 3), dtype=np.uint8))   # 3 frames 128x96
    assert cli.main(["animate", "--checkpoint", str(pretrained_path()), "--source", str(tmp_path / "photo.png"),
                     "--driving", str(tmp_path / "driving.gif"), "--out", str(tmp_path / "o.gif"),
                     "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "photo.png is 80x96; resized to the model's 64x64 frames (aspect ratio not kept)" in err
    assert "driving.gif has 128x96 frames; resized to the model's 64x64 (aspect ratio not kept)" in err
    assert "note: the model knows data/synthetic-64 (64x64 frames); photo.png, driving.gif are not from it" in err
