"""What the grader sandbox contains on this machine, in words, from the workers' own report.

Each worker reports what every layer of :mod:`curate.graders._sandbox` did (``LocalGrader.protections``);
``summarize`` turns that into one state per concern and ``describe`` into the line ``curate grade``
and ``curate dryrun`` print.

>>> report = {"namespaces": "user, network, pid", "network_namespace": "on", "pid_namespace": "on",
...           "subreaper": "on", "rlimits": "on", "landlock": "ABI 7", "seccomp": "on"}
>>> summarize(report)["network"]
'off (network namespace, seccomp)'
>>> summarize({"in_process": "no isolation (workers=0)"})
{'isolation': 'none: python graders run in this process (workers=0)'}
"""

from __future__ import annotations

from collections.abc import Mapping


def summarize(report: Mapping[str, str]) -> dict[str, str]:
    """One state per concern: environment, network, files, processes, memory."""
    if "in_process" in report:
        return {"isolation": "none: python graders run in this process (workers=0)"}
    landlock = report.get("landlock", "")
    abi = int(landlock.split()[1]) if landlock.startswith("ABI ") else 0
    seccomp = report.get("seccomp") == "on"
    netns = report.get("network_namespace") == "on"
    net = [name for name, on in (("network namespace", netns), ("landlock TCP", abi >= 4 and not netns),
                                 ("seccomp", seccomp)) if on]
    if netns or seccomp:
        network = f"off ({', '.join(net)})"
    elif abi >= 4:
        network = "TCP off (landlock); UDP open"
    else:
        network = "OPEN (no network namespace, seccomp or landlock here)"
    files = (
        "reads limited to Python and system libraries, writes to a private temp folder (landlock)"
        if abi else f"NOT confined (landlock {landlock or 'unavailable'})"
    )
    if seccomp:
        processes = "no new processes (seccomp)"
    elif report.get("pid_namespace") == "on":
        processes = "killed after each call (PID namespace)"
    elif report.get("subreaper") == "on":
        processes = "killed after each call (subreaper)"
    else:
        processes = "killed with the worker (process group only)"
    if report.get("pid_namespace") == "on" and seccomp:
        processes += "; the process tree dies with the worker (PID namespace)"
    return {
        "environment": "scrubbed (allow-list: PATH, HOME, TMPDIR, LANG)",
        "network": network,
        "files": files,
        "processes": processes,
        "memory": "limited (RLIMIT_AS)" if report.get("rlimits") == "on" else "not limited",
    }


def describe(report: Mapping[str, str] | None) -> str | None:
    """``grader sandbox: environment ...; network ...`` (None when nothing runs python code)."""
    if report is None:
        return None
    return "grader sandbox: " + "; ".join(f"{k} {v}" for k, v in summarize(report).items())
