import json

import pytest

from lib import config, results


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    config.setup("98_results_test", quiet=True)
    return tmp_path


def test_record_writes_json_with_context(build):
    results.describe(dataset="binarized MNIST", n_train=100, n_test=20)
    results.record("test_log_likelihood", -98.7, unit="nats")
    results.record("train_seconds", 12, unit="s", note="2 cores")
    doc = json.loads((build / "results" / "98_results_test.json").read_text(encoding="utf-8"))
    assert doc["scale"] == "smoke"
    assert doc["info"] == {"dataset": "binarized MNIST", "n_train": 100, "n_test": 20}
    assert doc["results"]["test_log_likelihood"] == {"value": -98.7, "unit": "nats"}
    assert doc["results"]["train_seconds"]["note"] == "2 cores"
    assert "numpy" in doc["versions"] and doc["device"]


def test_record_numpy_and_torch_scalars(build):
    import numpy as np
    import torch

    results.record("a", np.float32(1.5))
    results.record("b", torch.tensor(2.0))
    doc = results.load()
    assert doc["results"]["a"]["value"] == 1.5 and doc["results"]["b"]["value"] == 2.0


def test_record_rejects_non_finite(build):
    with pytest.raises(ValueError, match="not finite"):
        results.record("x", float("nan"))


def test_record_needs_a_notebook(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    monkeypatch.setattr(config, "_notebook", None)
    with pytest.raises(RuntimeError, match="setup"):
        results.record("x", 1.0)


def test_collect_makes_one_markdown_table(build):
    results.describe(dataset="MNIST", n_train=100, n_test=20)
    results.record("fcd", 12.345678, unit="")
    results.record("ll", -100.0, unit="nats", notebook="97_other")
    table = results.collect()
    lines = table.splitlines()
    assert lines[2].startswith("| notebook |")
    assert any(line.startswith("| 97_other | smoke |") and "| ll | -100 | nats |" in line for line in lines)
    assert any(
        "98_results_test" in line and "MNIST (100 train, 20 test)" in line and "12.35" in line
        for line in lines
    )
    assert results.main([str(build / "results.md")]) == 0
    assert (build / "results.md").read_text(encoding="utf-8") == table


def test_setup_starts_a_fresh_record(build):
    results.record("old_key", 1.0)
    config.setup("98_results_test", quiet=True)
    results.record("new_key", 2.0)
    assert set(results.load()["results"]) == {"new_key"}


def test_a_new_run_replaces_the_earlier_runs_record(build):
    results.record("old_only", 1.0)
    results.record("both", 2.0)
    config.setup("98_results_test", quiet=True)  # a new run of the same notebook
    results.record("both", 3.0)
    doc = results.load()
    assert doc["results"] == {"both": {"value": 3.0, "unit": ""}}
    assert doc["run"] == config.run_id()


def test_key_results_go_into_the_readme_with_their_provenance(build, tmp_path):
    results.record("ll", -98.76543, unit="nats", key="exact test LL")
    results.record("not_key", 5.0)
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Course\n\n<!-- results:begin -->\nold typed table\n<!-- results:end -->\n\nend\n", encoding="utf-8"
    )
    results.update_readme(readme, build / "results")
    text = readme.read_text(encoding="utf-8")
    assert "old typed table" not in text and text.endswith("<!-- results:end -->\n\nend\n")
    doc = results.load()
    assert "| 98_results_test | exact test LL -98.77 nats |" in text
    assert "not_key" not in text
    assert f"`COURSE_SCALE=smoke`, run on {doc['updated'][:10]} at commit `{doc['commit']}`" in text


def test_readme_update_refuses_without_markers_or_results(build, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n", encoding="utf-8")
    results.record("ll", 1.0, key="x")
    with pytest.raises(ValueError, match="results:begin"):
        results.update_readme(readme, build / "results")
    with pytest.raises(ValueError, match="make run"):
        results.key_results_table(tmp_path / "empty")


def test_results_does_not_import_the_comparison_that_builds_on_it():
    """lib.comparison builds on lib.results; the lower module must not know the higher one."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(results.__file__).read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {
        f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
    }
    assert not [n for n in names if "comparison" in n], names
