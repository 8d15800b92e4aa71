"""The pre-commit hook (.pre-commit-hooks.yaml), run for real through pre-commit.

A git repository is made from this working tree (the files a commit of it would hold: tracked
and new files, not ignored ones), and a user's repository with ONNX models and a policy refers to
it by path and commit, as a .pre-commit-config.yaml does. pre-commit builds the hook's virtualenv
once per test session (installing graphcheck and its dependencies from the package index: 10-30 s
here), then each `pre-commit run` takes about a second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
HOOK_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "graphcheck")

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")


def git(cwd: Path, *args: str) -> str:
    res = subprocess.run(
        [
            "git",
            "-c",
            "user.name=graphcheck tests",
            "-c",
            "user.email=tests@graphcheck.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return res.stdout.strip()


def _working_tree_files() -> list[str]:
    """The files a commit of this working tree would hold (tracked and new, not ignored); outside a git
    checkout, the ones `pip install .` and pre-commit need."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        files = [f for f in out.splitlines() if (ROOT / f).is_file()]
    except (subprocess.CalledProcessError, FileNotFoundError):  # not a git checkout: take the files as they are
        files = []
    if not files:
        for name in HOOK_FILES:
            p = ROOT / name
            if p.is_file():
                files.append(name)
            else:
                files += [
                    str(f.relative_to(ROOT)) for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts
                ]
    return files


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding the hook (this working tree's package), and its commit."""
    repo = tmp_path_factory.mktemp("graphcheck-hook")
    for f in _working_tree_files():
        dest = repo / f
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dest)
    assert (repo / ".pre-commit-hooks.yaml").is_file()
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "graphcheck hook under test")
    return repo, git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache for this session: the hook's environment is built once and reused."""
    return tmp_path_factory.mktemp("pre-commit-home")


def user_repo(base: Path, hook: tuple[Path, str], files: dict[str, str | bytes | Path]) -> Path:
    repo = base / "user-repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for name, content in files.items():
        dest = repo / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, dest)
        elif isinstance(content, bytes):
            dest.write_bytes(content)
        else:
            dest.write_text(content)
    path, rev = hook
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n-   repo: {path}\n    rev: {rev}\n    hooks:\n    -   id: graphcheck\n"
    )
    git(repo, "add", "-A")
    return repo


def pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRE_COMMIT", "GIT_", "VIRTUAL_ENV"))}
    env["PRE_COMMIT_HOME"] = str(home)
    env["PRE_COMMIT_COLOR"] = "never"
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_hook_passes_for_a_model_that_meets_the_policy(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    repo = user_repo(
        tmp_path,
        hook_repo,
        {
            "models/toy.onnx": FIXTURES / "toy.onnx",
            "models/unet.onnx": FIXTURES / "unet.onnx",
            "graphcheck.toml": (
                '[[model]]\npath = "models/toy.onnx"\ndims = ["unk__68=L"]\nrequire = ["L in 9..480000"]\n\n'
                '[[model]]\npath = "models/unet.onnx"\nrequire = ["height = width in {64, 128, 256}"]\n'
            ),
        },
    )
    start = time.monotonic()
    res = pre_commit(repo, pre_commit_home, "run", "graphcheck", "--files", "models/toy.onnx", "models/unet.onnx")
    took = time.monotonic() - start
    out = res.stdout + res.stderr
    print(f"\npre-commit run (building the hook's environment when not cached): {took:.1f} s")
    assert res.returncode == 0, out
    assert "graphcheck gate (ONNX input sizes)" in out and "Passed" in out


def test_hook_fails_with_the_reason_for_a_model_that_does_not(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    repo = user_repo(
        tmp_path,
        hook_repo,
        {
            "model.onnx": FIXTURES / "toy.onnx",
            "notes.txt": "not a model\n",
            "pyproject.toml": (
                '[project]\nname = "x"\n\n[tool.graphcheck]\ndims = ["unk__68=L"]\nrequire = ["L in 5..100"]\n'
            ),
        },
    )
    res = pre_commit(repo, pre_commit_home, "run", "graphcheck", "--files", "model.onnx", "notes.txt")
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "Failed" in out and "- exit code: 1" in out
    assert "FAIL  model.onnx" in out
    assert "FAILS    L in 5..100: fails for 5 <= L <= 8" in out
    assert "first failing layer: conv_a (Conv) [toy_1/conv_a_1/convolution] length" in out
    assert "notes.txt" not in out  # only .onnx files are gated


def test_hook_reports_an_unreadable_model(tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path) -> None:
    repo = user_repo(tmp_path, hook_repo, {"broken.onnx": b"\x0a\x05hello\x3a\x10truncated"})
    res = pre_commit(repo, pre_commit_home, "run", "graphcheck", "--files", "broken.onnx")
    out = res.stdout + res.stderr
    assert res.returncode == 1, out  # pre-commit's own code for a failing hook
    assert "- exit code: 2" in out and "ERROR  broken.onnx" in out and "not a valid ONNX model" in out
    assert "Traceback" not in out


def test_hook_skips_commits_without_models(tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path) -> None:
    repo = user_repo(tmp_path, hook_repo, {"README.md": "# nothing to gate\n"})
    res = pre_commit(repo, pre_commit_home, "run", "graphcheck", "--files", "README.md")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "(no files to check)Skipped" in out


def test_own_config_runs_the_import_contracts(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    """graphcheck's own .pre-commit-config.yaml runs import-linter: it passes on this tree and
    fails once a lower layer imports a higher one."""
    repo = tmp_path / "graphcheck-dev"
    shutil.copytree(hook_repo[0], repo, ignore=shutil.ignore_patterns(".git"))
    assert (repo / ".pre-commit-config.yaml").is_file()
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    env_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["PATH"], saved = env_path, os.environ.get("PATH", "")
    try:
        res = pre_commit(repo, pre_commit_home, "run", "lint-imports", "--all-files")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Passed" in res.stdout
        with open(repo / "graphcheck" / "model" / "ir.py", "a") as f:
            f.write("\n\ndef _upward() -> None:\n    from graphcheck.report.codes import CODES  # noqa: F401\n")
        git(repo, "add", "-A")
        res = pre_commit(repo, pre_commit_home, "run", "lint-imports", "--all-files")
        assert res.returncode == 1, res.stdout + res.stderr
        assert "graphcheck.model is not allowed to import graphcheck.report" in res.stdout
    finally:
        os.environ["PATH"] = saved
