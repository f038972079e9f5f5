"""Measure how much of the task files of roles well_known and reverse_proxy are copies.

    python3 hacking/role-duplication.py              # the table and the total
    python3 hacking/role-duplication.py --max 15     # also fail (exit 1) above 15 %
    python3 hacking/role-duplication.py --show       # also print the shared lines of each file

Each task file (roles/<role>/tasks/*.yml) is read with the variable prefixes made equal
(well_known_ and reverse_proxy_ become role_, __well_known_ and __reverse_proxy_ become
__role_), comments and blank lines dropped and each line stripped of its indentation. For every
file name both roles have, the lines of one that reappear in the same order in the other are
counted (the longest common subsequence of the two files' lines). The result is the sum of those
shared lines over the smaller role's task lines (the role with fewer lines in total).
"""

import argparse
import pathlib
import re
import sys

ROLES = ("well_known", "reverse_proxy")
PREFIX = re.compile(r"(?<![A-Za-z0-9])(__)?(well_known|reverse_proxy)_")


def normalise(text):
    """The lines of a task file that count: prefix made equal, no comments, no blank lines."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        # A trailing comment after YAML ("key: value  # why"), when the "#" is not quoted.
        stripped = re.sub(r"\s+#\s.*\Z", "", stripped)
        lines.append(PREFIX.sub(lambda m: (m.group(1) or "") + "role_", stripped))
    return lines


def common_subsequence(first, second):
    """A longest common subsequence of two lists of lines (the lines, in order)."""
    # lengths[i][j]: length of the longest common subsequence of first[i:] and second[j:].
    lengths = [[0] * (len(second) + 1) for position in range(len(first) + 1)]
    for i in range(len(first) - 1, -1, -1):
        for j in range(len(second) - 1, -1, -1):
            lengths[i][j] = lengths[i + 1][j + 1] + 1 if first[i] == second[j] else max(lengths[i + 1][j], lengths[i][j + 1])
    shared, i, j = [], 0, 0
    while i < len(first) and j < len(second):
        if first[i] == second[j]:
            shared.append(first[i])
            i, j = i + 1, j + 1
        elif lengths[i + 1][j] >= lengths[i][j + 1]:
            i += 1
        else:
            j += 1
    return shared


def task_files(root, role):
    directory = root / "roles" / role / "tasks"
    return {path.name: normalise(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.yml"))}


def measure(root):
    """(rows, shared, smaller role, its line count): rows are (file, lines per role, shared lines)."""
    files = {role: task_files(root, role) for role in ROLES}
    totals = {role: sum(len(lines) for lines in files[role].values()) for role in ROLES}
    smaller = min(ROLES, key=lambda role: (totals[role], role))
    rows = []
    for name in sorted(set(files[ROLES[0]]) | set(files[ROLES[1]])):
        counts = tuple(len(files[role].get(name, [])) for role in ROLES)
        shared = []
        if all(name in files[role] for role in ROLES):
            shared = common_subsequence(files[ROLES[0]][name], files[ROLES[1]][name])
        rows.append((name, counts, shared))
    return rows, sum(len(row[2]) for row in rows), smaller, totals[smaller]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--root", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parent.parent,
                        help="the collection's checkout (default: this script's)")
    parser.add_argument("--show", action="store_true", help="print the shared lines of each file pair")
    parser.add_argument("--max", type=float, metavar="PERCENT",
                        help="exit 1 when the shared lines are more than PERCENT of the smaller role's")
    args = parser.parse_args(argv)
    for role in ROLES:
        if not (args.root / "roles" / role / "tasks").is_dir():
            parser.error(f"{args.root}: no roles/{role}/tasks directory")

    rows, shared, smaller, smaller_lines = measure(args.root)
    width = max(len(row[0]) for row in rows)
    print(f"{'task file':<{width}}  {ROLES[0]:>10}  {ROLES[1]:>13}  shared")
    for name, counts, common in rows:
        print(f"{name:<{width}}  {counts[0]:>10}  {counts[1]:>13}  {len(common):>6}")
    if args.show:
        for name, _counts, common in rows:
            if common:
                print(f"--- lines of {name} in both roles, in order:")
                print("\n".join("    " + line for line in common))
    percent = 100.0 * shared / smaller_lines if smaller_lines else 0.0
    print(f"shared: {shared} of {smaller}'s {smaller_lines} task lines ({percent:.0f}%)")
    if args.max is not None and percent > args.max:
        print(f"role-duplication: more than {args.max:g}% shared", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
