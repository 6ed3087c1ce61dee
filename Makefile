# Developer entry points. `make demo` and `make test` each do all their own set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
FLOOR_VENV ?= .venv-airflow30
NEXT_VENV ?= .venv-airflow-next
# No cap on the newest: whatever the index serves (3.3.2 here; 3.4 once it is there).
AIRFLOW_NEWEST ?= apache-airflow>=3.3
# The floor is the last 3.0 release, with what its constraints file (constraints-3.0.6) pinned for the
# libraries whose later releases break 3.0 itself: fastapi and cadwyn (its in-process execution API, so
# dag.test() and the task runner) and universal-pathlib (0.3 makes 3.0's ObjectStoragePath refuse
# file:// paths), and cryptography (its newest MultiFernet takes no attribute, and 3.0's
# get_fernet sets one, so no connection with a password can be read). Each is a release of about when
# 3.0.6 came out.
AIRFLOW_FLOOR ?= apache-airflow==3.0.6 fastapi==0.116.1 cadwyn==5.4.4 universal-pathlib==0.2.6 \
	cryptography==45.0.7
# The next Airflow: the newest release the index serves, pre-releases included (3.4.0b2 today; the
# newest final once it is newer). The pre-release in the specifier is what lets uv take one, for Airflow
# (and the core and task SDK it pins) only: --prerelease=allow would also take other libraries'
# (protobuf 7.37.0rc1), which the lane is not here to test.
AIRFLOW_NEXT ?= apache-airflow>=3.4.0b1
PYTEST_ARGS ?=
# `make test` and `make test-floor` run the tests in this many processes (pytest-xdist; each has its own
# Airflow home, metadata DB and emulators). TEST_WORKERS=0 runs them in this one.
TEST_WORKERS ?= 2

UV = $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)

.PHONY: demo test test-unit test-floor test-next lint bench clean docs doctest check-wheel

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

# The project's extras in each venv (the docs tools only where the docs are built).
VENV_EXTRAS = test,dev,docs
FLOOR_EXTRAS = test,dev
# The next Airflow's lane runs the same tests as the floor, so it takes the same extras.
NEXT_EXTRAS = $(FLOOR_EXTRAS)

# $(1): venv folder, $(2): Airflow requirement (and pins), $(3): the project's extras
define make_venv
	test -x $(1)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(1)
	$(UV) pip install --quiet --compile-bytecode --python $(1)/bin/python -e ".[$(3)]" $(foreach req,$(2),"$(req)")
endef

$(VENV)/.installed: pyproject.toml | $(UV)
	$(call make_venv,$(VENV),$(AIRFLOW_NEWEST),$(VENV_EXTRAS))
	touch $@

$(FLOOR_VENV)/.installed: pyproject.toml | $(UV)
	$(call make_venv,$(FLOOR_VENV),$(AIRFLOW_FLOOR),$(FLOOR_EXTRAS))
	touch $@

$(NEXT_VENV)/.installed: pyproject.toml | $(UV)
	$(call make_venv,$(NEXT_VENV),$(AIRFLOW_NEXT),$(NEXT_EXTRAS))
	touch $@

## The main job on the embedded default: local emulator + SQLite Airflow, every example DAG end to end
## (rtk_demo.py, beside dags/: it is the repository's, not the package's).
demo: $(VENV)/.installed
	$(VENV)/bin/python rtk_demo.py

## Every test on the newest Airflow 3.3.
test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## The fast loop: the unit tests only (no DAG run, no subprocess; `make test` runs them too).
test-unit: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) tests/unit $(PYTEST_ARGS)

## The provider's tests, DAG runs included, on the lowest supported Airflow (3.0), so the floor is true.
## (The emulator's own tests import no Airflow: the Airflow version cannot change them.)
## Not on the floor: the fault, ownership and secrets suites, whose assertions read the task log as
## Airflow 3.3's task logging writes it (3.0's keeps writing to the streams of earlier captures, so the
## lines a case looks for can be lost); they run in full on the newest Airflow.
FLOOR_NOT_RUN = tests/emulator tests/integration/test_faults.py tests/integration/test_ownership.py \
	tests/integration/test_secrets.py $(FLOOR_NO_RECEIVER)
## The webhook receiver needs Airflow 3.3+ (its asset-watcher model; 3.0's plugin mounts nothing, and
## tests/unit/webhooks/test_plugin.py checks that on the floor): its DB-level and plugin-loading suites
## run on the newest Airflow and the next one.
FLOOR_NO_RECEIVER = tests/integration/test_webhook_receiver.py tests/integration/test_webhook_plugin.py
## For the same reason, the copy's task-log test: Airflow 3.0's console shows a failing task's traceback
## with its frames' local variables, unmasked (a link cut off mid-path among them); 3.3 does not.
FLOOR_DESELECTED = tests/integration/test_copy_files.py::test_the_task_log_of_a_failing_copy_shows_no_signature
test-floor: $(FLOOR_VENV)/.installed
	$(FLOOR_VENV)/bin/python -m pytest -n $(TEST_WORKERS) $(foreach path,$(FLOOR_NOT_RUN),--ignore=$(path)) \
		$(foreach test,$(FLOOR_DESELECTED),--deselect=$(test)) $(PYTEST_ARGS)

## The next Airflow (see AIRFLOW_NEXT): the unit and DAG-level suites, so a release that breaks the
## provider is known before users upgrade to it. In full they took 9.7 min (2 workers, a shared machine);
## CI's budget leaves this lane about 8, so two DAG-level parts that add nothing version-specific run
## only on the newest final: the demo (it runs every example DAG, which test_example_dags and
## test_record_when_live run here one by one) and the two-deployment races of test_ownership (about
## 3 min: each spawns two fresh Airflow processes, and what they test is the provider's reconciliation
## with the service, which one deployment's tests here already cover on this Airflow).
NEXT_SUITES = tests/unit tests/integration
NEXT_NOT_RUN = tests/integration/test_demo.py
NEXT_DESELECTED = tests/integration/test_ownership.py::test_two_deployments_starting_one_meeting_at_once_converge_on_one_recording \
	tests/integration/test_ownership.py::test_two_deployments_racing_a_legacy_start_never_stop_each_others_recording
test-next: $(NEXT_VENV)/.installed
	$(NEXT_VENV)/bin/python -m pytest -n $(TEST_WORKERS) $(NEXT_SUITES) $(foreach path,$(NEXT_NOT_RUN),--ignore=$(path)) \
		$(foreach test,$(NEXT_DESELECTED),--deselect=$(test)) $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check airflow_provider_rtk rtk_demo.py dags tests benchmarks docs/conf.py .ci
	$(VENV)/bin/ruff format --check airflow_provider_rtk rtk_demo.py dags tests benchmarks docs/conf.py .ci
	$(VENV)/bin/mypy airflow_provider_rtk rtk_demo.py

bench: $(VENV)/.installed
	$(VENV)/bin/python -m benchmarks

## The docs site (docs/, Sphinx) into docs/_build/html, every warning an error and nitpicky (every
## reference to a provider name must resolve); autodoc imports the real provider from the project's venv
## (Airflow included, nothing mocked). Then `make doctest` runs the pages' examples (reusing the read pages).
SPHINX_OPTS ?= -W --keep-going -n -q -d docs/_build/doctrees
docs: $(VENV)/.installed
	$(VENV)/bin/sphinx-build -E -b html $(SPHINX_OPTS) docs docs/_build/html
	$(MAKE) doctest

doctest: $(VENV)/.installed
	$(VENV)/bin/sphinx-build -b doctest $(SPHINX_OPTS) docs docs/_build/doctest
	tail -n 5 docs/_build/doctest/output.txt

## The wheel as users get it: build the sdist and wheel, check their metadata and contents, install the
## wheel alone in a fresh venv with Airflow (from a temporary folder, no checkout on the path) and there
## list the provider, run the emulator command, the pytest plugin on a DAG test, and parse dags/.
check-wheel: $(VENV)/.installed
	$(VENV)/bin/python .ci/check_wheel.py --uv $(UV) --python $(PYTHON) --airflow "$(AIRFLOW_NEWEST)"

clean:
	rm -rf $(VENV) $(FLOOR_VENV) $(NEXT_VENV) .tools .demo build dist docs/_build *.egg-info

## The end-to-end suite: real Airflow services on loopback, REST triggers, a real browser (installs
## Debian's chromium and Playwright first). E2E_PROFILE=distributed: PostgreSQL, Redis, CeleryExecutor.
E2E_PROFILE ?= local
.PHONY: test-e2e test-e2e-distributed
test-e2e: $(VENV)/.installed
	VENV=$(VENV) .ci/install-e2e $(E2E_PROFILE)
	RTK_E2E_PROFILE=$(E2E_PROFILE) $(VENV)/bin/python -m pytest tests/e2e -m e2e -p no:cacheprovider $(PYTEST_ARGS)

test-e2e-distributed:
	$(MAKE) test-e2e E2E_PROFILE=distributed
