#!/usr/bin/env bash
# Install the Debian packages jiedai needs outside Python and npm, if any is missing:
#   chromium        the browser of the end-to-end tests (/usr/bin/chromium)
#   fonts-noto-cjk  Chinese glyphs for the pages chromium renders
#   fontconfig      fc-list, to check for those fonts
#   libpango-1.0-0, libpangoft2-1.0-0  what WeasyPrint draws the approval record (PDF) with
#   poppler-utils   pdftotext/pdftoppm: the tests read the approval record's text back
# Costs a few milliseconds and never calls apt-get when everything is there.
set -euo pipefail

need=()
if [[ ! -x /usr/bin/chromium ]]; then
    need+=(chromium)
fi
# grep without -q reads all of fc-list's output: -q stops early, and pipefail then
# reports fc-list's SIGPIPE as a failure.
if ! command -v fc-list >/dev/null 2>&1; then
    need+=(fontconfig fonts-noto-cjk)
elif ! fc-list : family | grep -i "Noto Sans CJK" >/dev/null; then
    need+=(fonts-noto-cjk)
fi
if ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } | grep "libpangoft2-1.0.so.0" >/dev/null; then
    need+=(libpango-1.0-0 libpangoft2-1.0-0)
fi
if ! command -v pdftotext >/dev/null 2>&1; then
    need+=(poppler-utils)
fi
if [[ ${#need[@]} -eq 0 ]]; then
    exit 0
fi

bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "${need[@]}"

if [[ ! -x /usr/bin/chromium ]]; then
    echo "system-deps: /usr/bin/chromium is still missing after installing chromium." >&2
    exit 1
fi
