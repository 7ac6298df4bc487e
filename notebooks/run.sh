#!/usr/bin/env bash
# Executes every notebook in notebooks/ headless (jupyter nbconvert --execute) on the tslab TypeScript
# kernel, in order, and fails when any cell fails or a committed notebook carries outputs.
# Prints one line per notebook. Usage: bash notebooks/run.sh [--keep DIR] [NOTEBOOK.ipynb ...]
# Database: NOTEBOOK_DATABASE_URL, else DATABASE_URL's server (database churn_notebooks), else an
# embedded PostgreSQL under .churn/notebooks (see notebooks/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

keep=""
if [ "${1:-}" = "--keep" ]; then
  keep="${2:?--keep needs a directory}"
  shift 2
fi
if [ $# -gt 0 ]; then notebooks=("$@"); else notebooks=(notebooks/[0-9][0-9]-*.ipynb); fi

if ! command -v jupyter >/dev/null || ! jupyter nbconvert --version >/dev/null 2>&1; then
  echo "notebooks: jupyter nbconvert is missing (Debian: apt-get install jupyter-nbconvert python3-ipykernel jupyter-client)" >&2
  exit 1
fi
[ -x node_modules/.bin/tslab ] || { echo "notebooks: node_modules/.bin/tslab is missing; run npm ci first" >&2; exit 1; }
# The Python that runs Jupyter (it has jupyter_client, which installs the kernel spec).
jupyter_python() {
  local line
  line="$(head -n 1 "$(command -v jupyter)")"
  set -- ${line#\#!}
  [ "$(basename "${1:-}")" = env ] && shift
  command -v "${1:-}" 2>/dev/null
}
python=""
for candidate in "$(jupyter_python || true)" /usr/bin/python3 python3; do
  if [ -n "$candidate" ] && "$candidate" -c 'import jupyter_client' 2>/dev/null; then python="$candidate"; break; fi
done
[ -n "$python" ] || { echo "notebooks: no Python with jupyter_client found (Debian: apt-get install jupyter-client)" >&2; exit 1; }

# Committed notebooks stay free of outputs (clear them with: jupyter nbconvert --clear-output --inplace notebooks/*.ipynb).
"$python" - "${notebooks[@]}" <<'PY'
import json, sys
dirty = [p for p in sys.argv[1:] if any(c.get('outputs') or c.get('execution_count') for c in json.load(open(p))['cells'] if c['cell_type'] == 'code')]
if dirty:
    sys.exit('notebooks: outputs are committed in ' + ', '.join(dirty) + '; clear them with: jupyter nbconvert --clear-output --inplace ' + ' '.join(dirty))
PY

work="$(mktemp -d -t churn-notebooks.XXXXXX)"
out="${keep:-$work/out}"
mkdir -p "$out"
# The tslab kernel spec goes into a private prefix: no root needed, nothing global changes.
node_modules/.bin/tslab install --python="$python" --binary="$PWD/node_modules/.bin/tslab" --prefix="$work/jupyter" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log" >&2; echo "notebooks: could not install the tslab kernel spec" >&2; exit 1; }
export JUPYTER_PATH="$work/jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export PATH="$PWD/node_modules/.bin:$PATH"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
seconds_since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d' $(( ms / 1000 )) $(( ms % 1000 / 100 )); }
failed=0
total_start=$(now_ms)
for nb in "${notebooks[@]}"; do
  name="$(basename "$nb")"
  start=$(now_ms)
  if jupyter nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=tslab \
      --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.startup_timeout=120 \
      --output-dir "$out" "$nb" >"$out/$name.log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=$((failed + 1))
  fi
  seconds=$(seconds_since "$start")
  cells=$("$python" -c 'import json,sys; print(sum(c["cell_type"] == "code" for c in json.load(open(sys.argv[1]))["cells"]))' "$nb")
  printf 'notebook %-28s %-6s %3s code cells %7s s\n' "$name" "$status" "$cells" "$seconds"
  if [ "$status" = FAILED ]; then
    # tslab reports a cell's error on stderr, which nbconvert's failure report leaves out: run the notebook
    # once more letting cells fail, and show the failing cell and what it wrote to stderr.
    jupyter nbconvert --to notebook --execute --allow-errors --ExecutePreprocessor.kernel_name=tslab \
      --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.startup_timeout=120 \
      --output-dir "$out" "$nb" >>"$out/$name.log" 2>&1 || true
    [ -f "$out/$name" ] && "$python" - "$out/$name" >&2 <<'PY'
import json, re, sys
for cell in json.load(open(sys.argv[1]))['cells']:
    err = ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []) if o.get('name') == 'stderr')
    if re.search(r'^\w*Error\b|^\d+:\d+ - ', err, re.M):
        print('    failing cell %s:\n%s\n    stderr:\n%s' % (cell.get('id'), ''.join('      ' + l for l in ''.join(cell['source']).splitlines(True)[:12]), ''.join('      ' + l for l in err.splitlines(True)[:20])))
        break
PY
  fi
done
summary="notebooks: $(( ${#notebooks[@]} - failed )) of ${#notebooks[@]} passed in $(seconds_since "$total_start") s"
if [ "$failed" -eq 0 ] && [ -z "$keep" ]; then
  rm -rf "$work"
  echo "$summary"
else
  echo "$summary; executed copies and logs in $out"
fi
[ "$failed" -eq 0 ]
