#!/usr/bin/env python3
"""Prints the C tables of native/src/as_math.c from AssemblyScript's std/assembly/util/math.ts
(EXP_DATA_TAB, LOG_DATA_TAB1, LOG_DATA_TAB2), two u64 a row as there. Run from the repo root;
the output is what as_math.c holds between its table markers."""
import re, sys
path = sys.argv[1] if len(sys.argv) > 1 else 'node_modules/assemblyscript/std/assembly/util/math.ts'
src = open(path).read()
names = {'EXP_DATA_TAB': 'as_exp_tab', 'LOG_DATA_TAB1': 'as_log_tab1', 'LOG_DATA_TAB2': 'as_log_tab2'}
for name, cname in names.items():
    m = re.search(r'const ' + name + r' = memory.data<u64>\(\[(.*?)\]\);', src, re.S)
    body = re.sub(r'//[^\n]*', '', m.group(1))
    vals = re.findall(r'0x[0-9A-Fa-f]{16}', body)
    assert len(vals) == 256, (name, len(vals))
    print(f'// {name}')
    print(f'static const uint64_t {cname}[256] = {{')
    for i in range(0, 256, 2):
        print(f'  0x{vals[i][2:].upper()}, 0x{vals[i+1][2:].upper()},')
    print('};')
    print()
