#!/usr/bin/python3
"""Extract Jane Austen's novels from Debian's r-cran-janeaustenr package without installing R.

The package stores an R lazy-load database: Rdata.rdx (gzip) is an R XDR serialization of a list whose
`variables` entry maps each novel to an [offset, length] in Rdata.rdb; each blob there is a 4-byte
big-endian length and a zlib stream holding an R serialization of a character vector (the lines).

Usage: extract_austen.py OUT_DIR   (downloads the .deb with apt-get download into OUT_DIR/deb)
Writes OUT_DIR/<novel>.txt, one file per novel, lines joined with newlines.
"""
import gzip
import os
import struct
import subprocess
import sys
import zlib

NOVELS = ['emma', 'mansfieldpark', 'northangerabbey', 'persuasion', 'prideprejudice', 'sensesensibility']


class RReader:
    """A minimal reader of R's XDR serialization (version 2 or 3): the types these files use."""

    def __init__(self, data: bytes):
        self.d = data
        self.i = 0
        self.refs = []

    def int(self) -> int:
        v = struct.unpack_from('>i', self.d, self.i)[0]
        self.i += 4
        return v

    def bytes(self, n: int) -> bytes:
        b = self.d[self.i:self.i + n]
        self.i += n
        return b

    def read(self):
        if self.bytes(2) != b'X\n':
            raise ValueError('not an R XDR serialization')
        version = self.int()
        self.int()  # writer's R version
        self.int()  # minimal reader version
        if version == 3:
            self.bytes(self.int())  # native encoding name
        return self.item()

    def item(self):
        flags = self.int()
        t = flags & 0xFF
        has_attr = bool(flags & (1 << 9))
        has_tag = bool(flags & (1 << 10))
        if t in (254, 253, 242, 241, 251, 252, 247):  # NULL, global/empty/base env, missing, unbound, base ns
            return None
        if t == 255:  # reference to an earlier symbol or environment
            idx = flags >> 8
            return self.refs[(idx or self.int()) - 1]
        if t == 1:  # symbol
            name = self.item()
            self.refs.append(name)
            return name
        if t == 2:  # pairlist: (attributes) (tag) car cdr
            out = {}
            while True:
                if has_attr:
                    self.item()
                tag = self.item() if has_tag else None
                out[tag if tag is not None else len(out)] = self.item()
                flags = self.int()
                t = flags & 0xFF
                if t == 254:
                    return out
                if t != 2:
                    raise ValueError(f'unexpected pairlist tail type {t}')
                has_attr = bool(flags & (1 << 9))
                has_tag = bool(flags & (1 << 10))
        if t == 9:  # CHARSXP
            n = self.int()
            return None if n == -1 else self.bytes(n).decode('utf-8', errors='strict')
        if t in (16, 19):  # character vector, generic vector
            v = [self.item() for _ in range(self.int())]
        elif t == 13 or t == 10:  # integer, logical
            n = self.int()
            v = list(struct.unpack_from(f'>{n}i', self.d, self.i))
            self.i += 4 * n
        elif t == 14:  # double
            n = self.int()
            v = list(struct.unpack_from(f'>{n}d', self.d, self.i))
            self.i += 8 * n
        else:
            raise ValueError(f'unsupported R type {t}')
        if has_attr:
            attrs = self.item()
            names = attrs.get('names') if isinstance(attrs, dict) else None
            if names is not None:
                return dict(zip(names, v))
        return v


def main(out_dir: str) -> None:
    deb_dir = os.path.join(out_dir, 'deb')
    os.makedirs(deb_dir, exist_ok=True)
    if not any(f.endswith('.deb') for f in os.listdir(deb_dir)):
        subprocess.run(['apt-get', 'download', 'r-cran-janeaustenr'], cwd=deb_dir, check=True)
    deb = next(f for f in os.listdir(deb_dir) if f.endswith('.deb'))
    subprocess.run(['dpkg-deb', '-x', deb, 'x'], cwd=deb_dir, check=True)
    data = os.path.join(deb_dir, 'x/usr/lib/R/site-library/janeaustenr/data')
    index = RReader(gzip.decompress(open(os.path.join(data, 'Rdata.rdx'), 'rb').read())).read()
    rdb = open(os.path.join(data, 'Rdata.rdb'), 'rb').read()
    for name in NOVELS:
        offset, length = index['variables'][name]
        blob = rdb[offset:offset + length]
        (size,) = struct.unpack_from('>I', blob, 0)
        raw = zlib.decompress(blob[4:])
        if len(raw) != size:
            raise ValueError(f'{name}: expected {size} bytes, got {len(raw)}')
        lines = RReader(raw).read()
        text = '\n'.join(line or '' for line in lines).strip() + '\n'
        with open(os.path.join(out_dir, f'{name}.txt'), 'w', encoding='utf-8') as f:
            f.write(text)
        print(f'{name}: {len(lines)} lines, {len(text)} characters')


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
