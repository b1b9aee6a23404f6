#!/usr/bin/env bash
# bench/mixed_corpus.sh OUT_DIR: builds the ~80 MB mixed corpus that bench/prepare_vs_js.sh and the
# tiktoken comparison use: one document per file, in four sub-folders.
#
#   rst/     the kernel's documentation, reStructuredText (Debian linux-doc-6.1; its translations
#            hold Chinese, Japanese, Korean and Italian prose)             ~24 MB
#   man/     manual pages in Japanese, Chinese and Russian, roff source     ~31 MB
#            (Debian manpages-ja, manpages-zh, manpages-ru)
#   code/    Python's standard library (*.py) and the first C headers of /usr/include/linux
#            in path order, up to 12 MB                                     ~23 MB
#   mixed/   generated text: words in 14 scripts, numbers in 6 digit systems, emoji, and every
#            Unicode white-space edge case the GPT-2 pattern cares about (U+0085, U+FEFF, U+00A0,
#            U+2028, U+3000, U+180E, U+200B, U+001C..U+001F, CR LF, tabs), fixed seed  ~3 MB
#
# Deterministic for a given set of installed packages. Installs the three Debian packages when
# they are missing (apt-get, as root). Rebuilds OUT_DIR from scratch.
set -euo pipefail
out="${1:?usage: bench/mixed_corpus.sh OUT_DIR}"
pkgs=(linux-doc-6.1 manpages-ja manpages-zh manpages-ru)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "mixed_corpus: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python_lib="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"

rm -rf "$out"
mkdir -p "$out"/{rst,man,code,mixed}
# Flattened file names (slashes -> '__') keep every document in one folder per kind.
unpack() {  # unpack SRC_ROOT DEST FIND_ARGS...: gunzips (or copies) each matching file
  local src="$1" dest="$2"
  shift 2
  (cd "$src" && find . -type f "$@" -print0 | LC_ALL=C sort -z) | while IFS= read -r -d '' f; do
    local name="${f#./}"
    name="${name//\//__}"
    case "$f" in
      *.gz) zcat "$src/$f" >"$dest/${name%.gz}" ;;
      *) cp "$src/$f" "$dest/$name" ;;
    esac
  done
}
unpack /usr/share/doc/linux-doc-6.1/Documentation "$out/rst" -name '*.rst.gz'
for lang in ja zh_CN zh_TW ru; do
  [ -d "/usr/share/man/$lang" ] && unpack "/usr/share/man/$lang" "$out/man" -name '*.gz'
done
unpack "$python_lib" "$out/code" -name '*.py' -not -path '*/site-packages/*' -not -path '*/dist-packages/*'
budget=$((12 * 1000 * 1000))
(cd /usr/include/linux && find . -type f -name '*.h' -print0 | LC_ALL=C sort -z) | while IFS= read -r -d '' f; do
  size=$(stat -c %s "/usr/include/linux/$f")
  [ "$budget" -gt "$size" ] || break
  budget=$((budget - size))
  name="${f#./}"
  cp "/usr/include/linux/$f" "$out/code/linux__${name//\//__}"
done
# Empty files are not documents (kiln prepare rejects them): drop any.
find "$out" -type f -empty -delete

python3 - "$out/mixed" <<'PY'
import random, sys
rng = random.Random(1337)
scripts = {  # name: code point ranges of letters (and marks) to draw words from
    "cyrillic": [(0x430, 0x44F), (0x410, 0x42F)], "greek": [(0x3B1, 0x3C9)], "arabic": [(0x628, 0x64A)],
    "hebrew": [(0x5D0, 0x5EA)], "devanagari": [(0x915, 0x939), (0x93E, 0x94C)], "thai": [(0xE01, 0xE2E)],
    "hangul": [(0xAC00, 0xD7A3)], "cjk": [(0x4E00, 0x9FFF)], "hiragana": [(0x3041, 0x3096)],
    "katakana": [(0x30A1, 0x30FA)], "georgian": [(0x10D0, 0x10FA)], "armenian": [(0x561, 0x586)],
    "ethiopic": [(0x1200, 0x1248)], "latin-ext": [(0xC0, 0xFF), (0x100, 0x17F)]}
digits = [0x30, 0x660, 0x6F0, 0x966, 0xE50, 0xFF10]  # ASCII, Arabic-Indic, Persian, Devanagari, Thai, fullwidth
emoji = ["\U0001F600", "\U0001F30D", "\U0001F44D\U0001F3FD", "\u2764\uFE0F", "\U0001F468\u200D\U0001F469\u200D\U0001F467",
         "\U0001F1EB\U0001F1F7"]
spaces = [" ", " ", " ", " ", "  ", "\n", "\n\n", "\t", "\r\n", "\u0085", "\u00A0", "\uFEFF", "\u2028", "\u3000",
          "\u180E", "\u200B", "\u001C", "\u001F", "\v", "\f", " \u0085", "\u0085 ", " \uFEFF", "\uFEFF ", "\u00A0 "]
punct = [".", ",", "!", "?", ";", ":", "'s", "'ll", "\u2019", "\u3002", "\uFF0C", "\u060C", "\u0964", "...", "--", "(", ")"]
def word(ranges):
    lo, hi = rng.choice(ranges)
    return "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 9)))
def number():
    z = rng.choice(digits)
    return "".join(chr(z + rng.randint(0, 9)) for _ in range(rng.randint(1, 6)))
for doc in range(300):
    names = rng.sample(sorted(scripts), 3)
    parts = []
    while sum(map(len, parts)) < 3500:
        r = rng.random()
        if r < 0.70: parts.append(word(scripts[rng.choice(names)]))
        elif r < 0.80: parts.append(number())
        elif r < 0.85: parts.append(rng.choice(emoji))
        else: parts.append(rng.choice(punct))
        parts.append(rng.choice(spaces))
    with open(f"{sys.argv[1]}/doc_{doc:03d}.txt", "w", encoding="utf-8", newline="") as f:
        f.write("".join(parts))
PY
echo "mixed_corpus: $(find "$out" -type f | wc -l) documents, $(cat "$out"/*/* | wc -c) bytes in $out"
