"""``--clipshift-model ../candidate`` (a space, not ``=``) and pytest's ini-file search.

pytest looks for its ini file and rootdir before plugins have added their options, so at that
moment ``../candidate`` looks like a test path: pytest takes the common ancestor of it and the
current folder as rootdir and may miss the suite's ``pytest.ini`` (its budgets, images and compare
rules) and collect nothing. Once our options are known the command line parses correctly, so the
only damage is the ini file and rootdir: this module redoes pytest's search without those values
and, when the answer differs, stops with a usage error saying how to write the option.
"""

from __future__ import annotations

from pathlib import Path


def space_separated_values(args: list[str], flags: set[str]) -> list[tuple[str, str]]:
    """(flag, value) for every ``--clipshift-x VALUE`` written with a space."""
    pairs = []
    for flag, value in zip(args, args[1:]):
        if flag in flags and not value.startswith("-"):
            pairs.append((flag, value))
    return pairs


def check_ini_search(config, value_flags: set[str]) -> str | None:
    """A message when a space-separated option value changed which ini file pytest found, else None."""
    args = [str(a) for a in config.invocation_params.args]
    pairs = space_separated_values(args, value_flags)
    if not pairs:
        return None
    try:  # pytest's own search, as it ran, minus the option values (private API: skip if it moved)
        from _pytest.config.findpaths import determine_setup

        values = {v for _, v in pairs}
        real_args = [str(a) for a in config.args if str(a) not in values]
        rootpath, inipath, *_ = determine_setup(
            inifile=config.known_args_namespace.inifilename,
            override_ini=config.known_args_namespace.override_ini,
            args=real_args,
            rootdir_cmd_arg=config.known_args_namespace.rootdir or None,
            invocation_dir=Path(config.invocation_params.dir),
        )
    except Exception:
        return None
    if Path(rootpath) == Path(config.rootpath) and (inipath and Path(inipath)) == (
        config.inipath and Path(config.inipath)
    ):
        return None
    flag, value = pairs[0]
    return (
        f"{flag} {value}: pytest read {value!r} as a test path while it looked for its ini file (it does so "
        f"before plugins add their options), so it used rootdir {config.rootpath} and "
        f"{'ini file ' + str(config.inipath) if config.inipath else 'no ini file'} instead of rootdir {rootpath} and "
        f"{'ini file ' + str(inipath) if inipath else 'no ini file'}. Write it with '=': {flag}={value}"
    )
