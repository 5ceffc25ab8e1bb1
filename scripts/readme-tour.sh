#!/usr/bin/env bash
# Takes the README's tour as a new user would: runs every `$ ` command of the
# README's ```console blocks, in order, from the repository root, and fails
# unless each exits 0 and prints (on stdout) what the README shows under it.
# Capture times are the only thing allowed to differ.
#
#   scripts/readme-tour.sh          # check
#   scripts/readme-tour.sh --bless  # run the tour and write what each command
#                                   # printed into README.md (read the diff)
#
# `cargo install` installs into target/readme-tour/ (put first on PATH), not
# into ~/.cargo/bin. A checkpoint-demo/ left by an earlier try is set aside
# while the tour runs, so the tour starts with none, and put back after.
set -euo pipefail
cd "$(dirname "$0")/.."
bless=0
[ "${1:-}" = --bless ] && bless=1

work=target/readme-tour
demo=checkpoint-demo
rm -rf "$work"
mkdir -p "$work/steps"

if [ -e "$demo" ]; then
    mv "$demo" "$work/$demo.kept"
fi
put_back() {
    rm -rf "$demo"
    if [ -e "$work/$demo.kept" ]; then
        mv "$work/$demo.kept" "$demo"
    fi
}
trap put_back EXIT

export CARGO_INSTALL_ROOT="$PWD/$work/install"
export PATH="$CARGO_INSTALL_ROOT/bin:$PATH"
export CARGO_TERM_COLOR=never

# Step N of the tour: steps/N.cmd holds the command, steps/N.out the output
# the README shows for it.
awk -v steps="$work/steps" '
    /^```console[[:space:]]*$/ { inside = 1; next }
    /^```/ { inside = 0; next }
    inside && /^\$ / {
        n++
        file = sprintf("%s/%03d", steps, n)
        print substr($0, 3) > (file ".cmd")
        printf "" > (file ".out")
        next
    }
    inside && n { print > (file ".out") }
' README.md

# Capture times, as `list` and `inspect` print them.
mask_times() {
    sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z?/<time>/g' "$1"
}

steps=0
for cmd_file in "$work"/steps/*.cmd; do
    step=${cmd_file%.cmd}
    command=$(cat "$cmd_file")
    echo "--- \$ $command"
    if ! bash -c "$command" >"$step.actual" 2>"$step.stderr"; then
        cat "$step.actual" "$step.stderr"
        echo "readme-tour: \`$command\` failed" >&2
        exit 1
    fi
    if [ "$bless" = 1 ]; then
        steps=$((steps + 1))
        continue
    fi
    if ! diff -u --label "README.md shows" --label "\`$command\` prints" \
        <(mask_times "$step.out") <(mask_times "$step.actual"); then
        echo "readme-tour: \`$command\` prints something else than README.md shows" >&2
        exit 1
    fi
    steps=$((steps + 1))
done
if [ "$steps" -eq 0 ]; then
    echo "readme-tour: no \`\$ \` command in a console block of README.md" >&2
    exit 1
fi
if [ "$bless" = 1 ]; then
    # Each console block's `$ ` lines stay; what follows each one becomes
    # the step's actual output.
    python3 - "$work/steps" <<'PY'
import pathlib, sys
steps = sorted(pathlib.Path(sys.argv[1]).glob("*.actual"))
out, inside, n, skipping = [], False, 0, False
for line in pathlib.Path("README.md").read_text().split("\n"):
    if line.rstrip() == "```console":
        inside = True
    elif inside and line.startswith("```"):
        inside, skipping = False, False
    elif inside and line.startswith("$ "):
        out.append(line)
        out.extend(steps[n].read_text().rstrip("\n").split("\n") if steps[n].read_text() else [])
        n, skipping = n + 1, True
        continue
    elif skipping:
        continue
    out.append(line)
pathlib.Path("README.md").write_text("\n".join(out))
PY
    echo "readme-tour: README.md now shows what its $steps commands print"
    exit 0
fi
echo "readme-tour: all $steps commands of README.md print what it shows"
