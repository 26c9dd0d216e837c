#!/bin/bash
# Every C/C++ file of the project as .clang-format wants it (bpf/vmlinux.h,
# generated from the kernel's BTF, aside). Prints the files that differ.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r file; do
  if ! clang-format-14 --dry-run --Werror "$file" >/dev/null 2>&1; then
    echo "not formatted: $file (clang-format-14 -i $file)"
    bad=1
  fi
done < <(git ls-files '*.cpp' '*.h' '*.c' | grep -v '^bpf/vmlinux\.h$')
[ $bad -eq 0 ] && echo "format: every C/C++ file matches .clang-format"
exit $bad
