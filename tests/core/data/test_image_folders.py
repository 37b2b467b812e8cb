"""Image folders as a user meets them: files that are not images, a folder of none, a broken image."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_user_project

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    return make_user_project(
        pytester, tiny_clip_dir, small_images, '[defaults]\n"cosine.mean" = 0.1\n', 2, "clipshift_no_cache = true\n"
    )


def test_files_that_are_not_images_are_skipped_with_one_warning(project):
    (project.path / "images" / "README").write_text("about these images")
    (project.path / "images" / "notes.txt").write_text("notes")
    (project.path / "images" / ".DS_Store").write_bytes(b"\x00\x01")
    project.makepyfile(
        test_one="""
        def test_blur(clipshift):
            assert clipshift.measure("gaussian_blur", 1).n_images == 2
    """
    )
    result = project.runpytest("--clipshift", "--clipshift-json=out.json")
    assert result.ret == 0
    lines = [line for line in result.stdout.lines if "not images by their extension" in line]
    assert len(lines) == 1 and ".DS_Store, README, notes.txt" in lines[0]  # said once, at start-up
    assert lines[0].startswith("clipshift: warning: skipped 3 file(s)")
    assert any("notes.txt" in w for w in json.loads((project.path / "out.json").read_text())["warnings"])


def test_a_folder_of_no_images_names_what_it_holds(project):
    (project.path / "docs").mkdir()
    (project.path / "docs" / "README").write_text("x")
    result = project.runpytest("--clipshift", "--clipshift-images=docs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "holds no image files (it holds only README); image files end in .png, .jpg" in result.stderr.str()


def test_a_broken_image_among_them_is_still_an_error(project):
    (project.path / "images" / "broken.png").write_bytes(b"not a png")
    project.makepyfile(
        test_one="""
        def test_blur(clipshift):
            clipshift.measure("gaussian_blur", 1)
    """
    )
    result = project.runpytest("--clipshift")
    assert result.ret == 4  # before any test runs
    assert "broken.png" in result.stdout.str() + result.stderr.str()


def test_the_skipped_files_warning_shows_before_the_tests_run(project):
    """Said at start-up, so a run that fails later (or is interrupted) has shown it too."""
    (project.path / "images" / "notes.txt").write_text("not an image")
    project.makepyfile(
        test_one="""
        def test_blur(clipshift):
            raise AssertionError("this run fails")
    """
    )
    result = project.runpytest("--clipshift")
    assert result.ret == 1
    lines = result.stdout.lines
    warned = next(i for i, line in enumerate(lines) if "clipshift: warning: skipped 1 file(s)" in line)
    assert warned < next(i for i, line in enumerate(lines) if "test_one.py" in line)
