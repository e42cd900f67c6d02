#!/bin/sh
# The image checks (docs/checks.md) read text back with Debian's Tesseract and its language packs
# (Latin, simplified Chinese, Hindi, Bengali); the tests draw text with Noto and DejaVu fonts.
# Install what is missing when we can (root with apt-get); otherwise say so: the text check then
# reports "OCR unavailable" on each card, and the OCR tests skip, visibly (fail with REQUIRE_OCR=1).
PACKAGES="tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-hin tesseract-ocr-ben
fonts-dejavu-core fonts-noto-core fonts-noto-cjk"
missing=""
for package in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's OCR packages and fonts for the image checks:$missing"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null) \
    || echo "Could not install$missing: the text check will say OCR is unavailable." >&2
else
  echo "Missing$missing and no root to install them: the text check will say OCR is unavailable" \
       "(apt-get install$missing)." >&2
fi
exit 0
