#!/usr/bin/env bash
# Remakes the real files in this folder (README.md says what each is for).
# Needs Debian's packages libreoffice-writer-nogui, libreoffice-calc-nogui,
# libreoffice-impress-nogui and lame, and python3; CI never runs it (the
# files are committed). Run from anywhere:
#   bash crates/flowflex-core/tests/samples/make.sh
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
export HOME="$work/home"   # LibreOffice's profile, kept out of the real home

printf 'FlowFlex sample document.\n' > sample.txt
printf 'name,count\nalpha,1\nbeta,2\n' > sample.csv
cat > sample.fodp <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.presentation">
<office:body><office:presentation><draw:page draw:name="page1"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="10cm" svg:height="2cm"><draw:text-box><text:p>FlowFlex sample slide</text:p></draw:text-box></draw:frame></draw:page></office:presentation></office:body></office:document>
EOF

# Old-format Office files, as LibreOffice's binary filters write them.
soffice --headless --convert-to doc:"MS Word 97" sample.txt >/dev/null
soffice --headless --convert-to xls:"MS Excel 97" sample.csv >/dev/null
soffice --headless --convert-to ppt:"MS PowerPoint 97" sample.fodp >/dev/null
soffice --headless --convert-to docx:"MS Word 2007 XML" sample.txt >/dev/null
cp sample.doc "$out/libreoffice.doc"
cp sample.xls "$out/libreoffice.xls"
cp sample.ppt "$out/libreoffice.ppt"

# LibreOffice's .docx, its parts rewritten (by Python's zipfile) in the
# order Word writes them, with [Content_Types].xml and _rels/.rels stored
# uncompressed as some producers do: the part names that say "Word" then
# start past the first KiB.
OUT="$out" python3 - <<'EOF'
import os, zipfile
src = zipfile.ZipFile("sample.docx")
first = ["[Content_Types].xml", "_rels/.rels", "word/_rels/document.xml.rels", "word/document.xml"]
rest = [i.filename for i in src.infolist() if i.filename not in first]
with zipfile.ZipFile(os.path.join(os.environ["OUT"], "late-parts.docx"), "w") as out:
    for name in first + rest:
        info = zipfile.ZipInfo(name, date_time=(2026, 12, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED if name in first[:2] else zipfile.ZIP_DEFLATED
        out.writestr(info, src.read(name))
EOF

# A tenth of a second of a 440 Hz tone, MPEG-2 Layer III at 32 kbit/s.
python3 - <<'EOF'
import math, struct, wave
with wave.open("tone.wav", "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 22050))) for i in range(2205)))
EOF
lame --quiet -b 32 --noreplaygain -t tone.wav "$out/lame.mp3"
