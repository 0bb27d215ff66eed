"""Check what promtool cannot see in monitoring/: docs, tests and metric names behind each alert.

For every alert rule in ``monitoring/alerts.yml``:

- it has a ``severity`` label and ``summary``, ``description`` and ``runbook_url`` annotations;
- its ``runbook_url`` ends in ``docs/runbook.md#<anchor>`` and ``docs/runbook.md`` has that heading;
- ``monitoring/alerts.test.yml`` has a case where it fires and one where it must stay quiet;
- every ``integration_*`` metric its expression reads is defined somewhere under ``src/``
  (a rule over a misspelt metric is valid PromQL that never fires).

The ``monitoring`` nox session runs it after ``promtool``. Needs PyYAML.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "monitoring" / "alerts.yml"
TESTS = ROOT / "monitoring" / "alerts.test.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
SRC = ROOT / "src"

SEVERITIES = {"critical", "warning", "info"}
ANNOTATIONS = ("summary", "description", "runbook_url")
RUNBOOK_URL = re.compile(r"(?:^|/)docs/runbook\.md#(?P<anchor>[a-z0-9_-]+)$")
OUR_METRIC = re.compile(r"\b(integration_[a-z0-9_]+)")
# prometheus_client adds these to the name a metric is declared with.
SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum")


def slug(heading: str) -> str:
    """Return the anchor GitHub gives a Markdown *heading*."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_anchors(text: str) -> set[str]:
    """Return the anchors of every heading of the Markdown *text*."""
    return {slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def alert_rules(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the alerting rules (not recording rules) of a Prometheus rule file."""
    return [
        rule
        for group in document.get("groups", [])
        for rule in group.get("rules", [])
        if "alert" in rule
    ]


def tested(document: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Return the alert names that some case expects firing, and those some case expects quiet."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in document.get("tests", []):
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    return firing, quiet


def defined_metrics(src: Path) -> str:
    """Return the text of every Python file under *src*, to look metric names up in."""
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(src.rglob("*.py")))


def metric_defined(name: str, source: str) -> bool:
    """Tell whether *source* declares *name*, or the name prometheus_client derives it from."""
    candidates = {name}
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            candidates.add(name.removesuffix(suffix))
    return any(f'"{candidate}"' in source or f"'{candidate}'" in source for candidate in candidates)


def check_rule(rule: dict[str, Any], anchors: set[str], source: str) -> list[str]:
    """Return what is wrong with one alerting *rule*."""
    name = rule["alert"]
    labels = rule.get("labels") or {}
    annotations = rule.get("annotations") or {}
    problems = []
    if labels.get("severity") not in SEVERITIES:
        problems.append(f"{name}: severity label must be one of {sorted(SEVERITIES)}")
    problems += [
        f"{name}: no {key!r} annotation" for key in ANNOTATIONS if not annotations.get(key)
    ]
    match = RUNBOOK_URL.search(str(annotations.get("runbook_url", "")))
    if match is None:
        problems.append(f"{name}: runbook_url must end in docs/runbook.md#<anchor>")
    elif match["anchor"] not in anchors:
        problems.append(f"{name}: docs/runbook.md has no heading for #{match['anchor']}")
    problems += [
        f"{name}: metric {metric} is not defined anywhere under src/"
        for metric in sorted(set(OUR_METRIC.findall(str(rule["expr"]))))
        if not metric_defined(metric, source)
    ]
    return problems


def main() -> int:
    """Run every check; exit 1 listing each problem found."""
    rules = alert_rules(yaml.safe_load(ALERTS.read_text(encoding="utf-8")))
    firing, quiet = tested(yaml.safe_load(TESTS.read_text(encoding="utf-8")))
    anchors = runbook_anchors(RUNBOOK.read_text(encoding="utf-8"))
    source = defined_metrics(SRC)
    names = {rule["alert"] for rule in rules}
    problems = [problem for rule in rules for problem in check_rule(rule, anchors, source)]
    problems += [f"{name}: no test case where it fires" for name in sorted(names - firing)]
    problems += [f"{name}: no test case where it stays quiet" for name in sorted(names - quiet)]
    problems += [
        f"alerts.test.yml tests {name}, which alerts.yml does not define"
        for name in sorted((firing | quiet) - names)
    ]
    if not rules:
        problems.append(f"no alerting rule in {ALERTS}")
    if problems:
        sys.stderr.write("monitoring/ is inconsistent:\n")
        sys.stderr.writelines(f"  - {problem}\n" for problem in problems)
        return 1
    sys.stdout.write(f"{len(rules)} alerts: each documented, tested both ways, on real metrics.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
