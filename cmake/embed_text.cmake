# cmake -DINPUT=<file> -DOUTPUT=<cpp> -DFUNCTION=<name> -P embed_text.cmake
# Writes a C++ file defining std::string_view netnsd::<FUNCTION>() that
# returns INPUT's bytes, encoded as hex so any content is safe.
file(READ ${INPUT} content HEX)
string(LENGTH "${content}" hex_length)
math(EXPR byte_count "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT}.tmp
"// Generated from ${INPUT} by cmake/embed_text.cmake; do not edit.
#include <string_view>

namespace netnsd {
namespace {
const char kBytes[] = {
${bytes}
0};
}  // namespace

std::string_view ${FUNCTION}() { return std::string_view(kBytes, ${byte_count}); }
}  // namespace netnsd
")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
