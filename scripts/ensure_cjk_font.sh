#!/bin/sh
# PDF forms of the registers and the destruction certificate (销毁清册) need a Chinese font on the
# server (portal/printing.py); without one the portal refuses PDFs and destruction cannot execute.
# `make setup` runs this: on Debian/Ubuntu as root it installs fonts-noto-cjk when no Chinese font
# is present; elsewhere it only says what to install.
if command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null | head -n 1)" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "No Chinese font found: installing fonts-noto-cjk (needed for PDF registers and certificates) …"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-cjk fontconfig >/dev/null \
    || echo "WARNING: could not install fonts-noto-cjk; PDFs will be refused until a Chinese font is installed."
else
  echo "WARNING: no Chinese font is installed; PDF registers and destruction certificates will be refused."
  echo "         Install one, e.g. 'sudo apt-get install fonts-noto-cjk' (Debian/Ubuntu)."
fi
exit 0
