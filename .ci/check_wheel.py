"""The wheel as users get it (``make check-wheel``).

Builds the sdist and the wheel, checks their metadata (``twine check --strict``) and the wheel's
contents (package data, entry points), then installs the wheel alone (not editable) with Airflow into
a fresh venv and, from a temporary folder with no checkout on the path:

1. ``airflow providers list`` shows the provider with its version;
2. ``realtimekit-emulator`` starts, answers over HTTP, and stops on SIGTERM;
3. the pytest plugin (found through its entry point, no conftest) runs a DAG test
   (``.ci/wheel/test_user_dag.py``: ``dag.test()`` of ``.ci/wheel/dags/record_standup.py`` against the
   emulator fixture);
4. a copy of ``dags/`` (with that DAG) loads with ``DagBag`` without an import error.

Standard library only; run by the project's venv (``twine`` comes from its ``dev`` extra).
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "airflow_provider_rtk"
DISTRIBUTION = "airflow-provider-rtk"
#: Entry points a user's environment relies on: group -> name -> object reference.
ENTRY_POINTS = {
    "apache_airflow_provider": {"provider_info": f"{PACKAGE}.get_provider_info:get_provider_info"},
    "pytest11": {f"{PACKAGE}.emulator.pytest_plugin": f"{PACKAGE}.emulator.pytest_plugin"},
    "airflow.plugins": {"realtimekit_webhooks": f"{PACKAGE}.webhooks.plugin:RealtimeKitWebhooksPlugin"},
    "console_scripts": {"realtimekit-emulator": f"{PACKAGE}.emulator.__main__:main"},
}
#: What the provider reads at run time besides its modules.
PACKAGE_DATA = [f"{PACKAGE}/py.typed"]
STEP_TIMEOUT = 600


def step(title: str) -> None:
    print(f"\n== check-wheel: {title}", flush=True)


def run(*command: str | Path, timeout: float = STEP_TIMEOUT, **kwargs: object) -> str:
    """Run a command and return its standard output; a failure ends the check, showing both streams."""
    result = subprocess.run(
        [str(part) for part in command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,  # type: ignore[arg-type]
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        sys.exit(f"check-wheel: {' '.join(map(str, command))} exited {result.returncode}:\n{output}")
    return result.stdout


def fail(message: str) -> None:
    sys.exit(f"check-wheel: {message}")


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def check_wheel_contents(wheel: Path, version: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = f"{DISTRIBUTION.replace('-', '_')}-{version}.dist-info"
        sources = {
            path.relative_to(ROOT).as_posix()
            for path in (ROOT / PACKAGE).rglob("*")
            if path.is_file() and (path.suffix == ".py" or path.name == "py.typed")
        }
        missing = sorted((sources | set(PACKAGE_DATA) | {f"{dist_info}/licenses/LICENSE"}) - names)
        if missing:
            fail(f"the wheel lacks {missing}")
        strays = sorted(name for name in names if not name.startswith((f"{PACKAGE}/", f"{dist_info}/")))
        if strays:
            fail(f"the wheel holds files outside the package: {strays}")
        parser = configparser.ConfigParser(delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(archive.read(f"{dist_info}/entry_points.txt").decode())
        for group, expected in ENTRY_POINTS.items():
            found = dict(parser[group]) if parser.has_section(group) else {}
            if found != expected:
                fail(f"entry points {group}: {found}, expected {expected}")
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        if metadata["Version"] != version or metadata["Name"] != DISTRIBUTION:
            fail(f"metadata names {metadata['Name']} {metadata['Version']}")
        requires = metadata.get_all("Requires-Dist") or []
        if not any(re.match(r"apache-airflow\s*>=\s*3", line) for line in requires):
            fail(f"the wheel does not require apache-airflow>=3: {requires}")
    print(
        f"{wheel.name}: {len(names)} files, package data {PACKAGE_DATA}, entry points {sorted(ENTRY_POINTS)}"
    )


def check_sdist_contents(sdist: Path, version: str) -> None:
    import tarfile

    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    needed = {
        "pyproject.toml",
        "README.md",
        "setup.cfg",
        *PACKAGE_DATA,
        f"{PACKAGE}/emulator/pytest_plugin.py",
    }
    if needed - names:
        fail(f"the sdist lacks {sorted(needed - names)}")
    print(f"{sdist.name}: {len(names)} files")


def user_environment(work: Path, venv: Path) -> dict[str, str]:
    """The environment of a user's shell: the fresh venv first on PATH, no checkout on the path."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env = {key: value for key, value in env.items() if not key.startswith("AIRFLOW")}
    env.update(
        {
            "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "VIRTUAL_ENV": str(venv),
            "AIRFLOW_HOME": str(work / "airflow-home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(work / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def check_emulator_command(venv: Path, work: Path, env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [str(venv / "bin" / "realtimekit-emulator"), "--port", "0"],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.match(r"RealtimeKit emulator serving (\S+)", banner)
        if not match:
            fail(f"the emulator printed {banner!r}")
        base_url = match.group(1)
        origin = base_url.split("/client/v4")[0]
        request = urllib.request.Request(
            f"{origin}/_emulator/meetings", data=json.dumps({"title": "wheel"}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            meeting_id = json.load(answer)["data"]["id"]
        listing = urllib.request.Request(
            f"{base_url}/accounts/acc/realtime/kit/app/recordings",
            headers={"Authorization": "Bearer emulator-token"},
        )
        with urllib.request.urlopen(listing, timeout=30) as answer:
            recordings = json.load(answer)
        if not recordings.get("success"):
            fail(f"the emulator listed {recordings}")
        print(f"emulator at {base_url}: meeting {meeting_id} created, recordings listed")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            fail("the emulator did not stop within 30 s of SIGTERM")
    rest = process.stdout.read() if process.stdout else ""
    if code != 0 or "stopped" not in rest:
        fail(f"the emulator exited {code}: {rest}")
    print("emulator stopped on SIGTERM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uv", required=True, help="the uv executable")
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the fresh venv")
    parser.add_argument("--airflow", default="apache-airflow>=3.3", help="the Airflow requirement")
    parser.add_argument("--keep", action="store_true", help="leave the temporary folder")
    args = parser.parse_args()
    started = time.monotonic()
    version = project_version()
    temp = Path(tempfile.mkdtemp(prefix="rtk-wheel-"))
    try:
        dist, venv, work = temp / "dist", temp / "venv", temp / "work"
        work.mkdir()

        step("build the sdist and the wheel")
        run(args.uv, "build", "--quiet", "--sdist", "--wheel", "--out-dir", dist, ROOT, cwd=temp)
        (wheel,) = dist.glob("*.whl")
        (sdist,) = dist.glob("*.tar.gz")
        print(run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist).strip())
        check_wheel_contents(wheel, version)
        check_sdist_contents(sdist, version)

        step("install the wheel alone, with Airflow, into a fresh venv")
        run(args.uv, "venv", "--quiet", "--python", args.python, venv, cwd=temp)
        python = venv / "bin" / "python"
        run(args.uv, "pip", "install", "--quiet", "--python", python, wheel, args.airflow, "pytest", cwd=temp)
        env = user_environment(work, venv)
        where = run(python, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)", cwd=work, env=env).strip()
        if not where.startswith(str(venv)):
            fail(f"{PACKAGE} imported from {where}, not from the fresh venv")
        print(f"{PACKAGE} imported from {where}")

        step("airflow providers list")
        airflow = venv / "bin" / "airflow"
        listed = json.loads(run(airflow, "providers", "list", "-o", "json", cwd=work, env=env))
        versions = {item["package_name"]: item["version"] for item in listed}
        if versions.get(DISTRIBUTION) != version:
            fail(f"airflow providers list: {DISTRIBUTION} {versions.get(DISTRIBUTION)}, not {version}")
        print(f"{DISTRIBUTION} {version} listed")

        step("the emulator command")
        check_emulator_command(venv, work, env)

        step("the pytest plugin on a DAG test")
        run(airflow, "db", "migrate", cwd=work, env=env)
        shutil.copytree(ROOT / "dags", work / "dags")
        shutil.copy(ROOT / ".ci" / "wheel" / "dags" / "record_standup.py", work / "dags")
        shutil.copy(ROOT / ".ci" / "wheel" / "test_user_dag.py", work)
        output = run(
            python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user_dag.py", cwd=work, env=env
        )
        if "1 passed" not in output:
            fail(f"the DAG test did not pass:\n{output}")
        print(output.strip().splitlines()[-1])

        step("dags/ parsed with DagBag")
        probe = (
            "import json\n"
            "try:\n    from airflow.dag_processing.dagbag import DagBag\n"
            "except ImportError:\n    from airflow.models.dagbag import DagBag\n"
            "bag = DagBag(dag_folder='dags')\n"
            "print(json.dumps({'dags': sorted(bag.dag_ids), 'errors': bag.import_errors}))\n"
        )
        bag = json.loads(run(python, "-c", probe, cwd=work, env=env).strip().splitlines()[-1])
        files = sorted(path.name for path in (work / "dags").glob("*.py"))
        if bag["errors"] or len(bag["dags"]) < len(files):
            fail(f"dags/ in the fresh venv: {bag}")
        print(f"{len(bag['dags'])} DAGs, no import error: {', '.join(bag['dags'])}")
    finally:
        if args.keep:
            print(f"left {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)
    print(f"\ncheck-wheel: passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
