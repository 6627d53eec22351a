#!/usr/bin/env python3
"""Asks a real Redis 7.0 for the answer to each corpus line (SCRIPT FLUSH before each,
so configuration changes do not leak) and writes corpus.expected.
Usage: gen_expected.py [unix-socket-path]  (default /tmp/lualibs.sock)"""
import os, sys, redis
here = os.path.dirname(os.path.abspath(__file__))
r = redis.Redis(unix_socket_path=sys.argv[1] if len(sys.argv) > 1 else '/tmp/lualibs.sock')
prelude = open(os.path.join(here, 'prelude.lua')).read()
out = []
for line in open(os.path.join(here, 'corpus.lua')):
    line = line.rstrip('\n')
    if not line.strip() or line.startswith('--'):
        continue
    r.execute_command('SCRIPT', 'FLUSH')
    try:
        v = r.eval(prelude + '\nreturn ' + line, 0)
        out.append(v.decode('latin-1') if isinstance(v, bytes) else 'REDIS NON-STRING: %r' % (v,))
    except redis.ResponseError as e:
        out.append('REDIS ERROR: %s' % e)
open(os.path.join(here, 'corpus.expected'), 'w').write('\n'.join(out) + '\n')
