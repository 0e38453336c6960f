"""Every benchmark runs, in its smallest size, on SQLite: they must not rot between runs."""

from __future__ import annotations

import pytest

from bench.__main__ import MODULES, main


@pytest.mark.parametrize("name", sorted(MODULES))
def test_benchmark_runs_and_writes_its_section(name, tmp_path):
    out = tmp_path / "benchmarks.md"
    assert main([name, "--smoke", "--db", "sqlite", "--out", str(out)]) == 0
    text = out.read_text()
    assert f"<!-- bench:{name}:start -->" in text and f"<!-- bench:{name}:end -->" in text
    assert "**Verdict:** not run" not in text


def test_sections_are_replaced_in_place(tmp_path):
    from bench.common import Report, write_section

    out = tmp_path / "benchmarks.md"
    facts = {"nproc": "2"}
    write_section(out, Report("sweep", "Sweep", "t", "c", verdict="first"), facts)
    write_section(out, Report("ack", "Ack", "t", "c", verdict="ack"), facts)
    out.write_text(out.read_text() + "\n## Findings\n\nkept\n")
    write_section(out, Report("sweep", "Sweep", "t", "c", verdict="second"), facts)
    text = out.read_text()
    assert text.index("bench:ack:start") < text.index("bench:sweep:start")
    assert "second" in text and "first" not in text and "kept" in text


def test_the_worker_cpu_diagnostic_runs(capsys):
    from bench import worker_cpu

    worker_cpu.main(["sqlite", "1"])
    line = capsys.readouterr().out
    assert "sqlite: the worker's CPU" in line and "ms a post" in line, line
