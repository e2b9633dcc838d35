# -*- coding: utf-8 -*-
"""Python Toto 1.0.10 reading a session this library wrote in Toto's layout (the
`write` option of the Redis cache's Toto compatibility): the other direction of the
rollout, run by tests/toto_compat.rs when Python 2.7 is available.

    PYENV_VERSION=2.7.18 python tests/toto_fixtures/read_session.py < request.json

stdin: {"session_id": ..., "value_b64": <the bytes of session:<id>>, "sign": <text>}.
The value goes through Toto's own path: RedisSessionCache.load_session (cPickle.loads
of the dict, as Toto does) and DBConnection.retrieve_session (renewal, RedisSession,
TotoSession.loads of the state). stdout: the session as Toto sees it, in JSON, and
TotoSession.hmac(sign) when the session has a key.
"""
import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402


def main():
    request = json.load(sys.stdin)
    make_fixtures.load_toto()
    import toto.dbconnection as tdb
    import toto.redisconnection as trc

    db = make_fixtures.RecordingRedis()
    key = trc._session_key(request['session_id'])
    db.strings[key] = (base64.b64decode(request['value_b64']), 60)
    conn = trc.RedisConnection.__new__(trc.RedisConnection)
    tdb.DBConnection.__init__(conn)
    conn.db = db
    conn.set_session_cache(trc.RedisSessionCache(db))
    session = conn.retrieve_session(request['session_id'])
    if session is None:
        print(json.dumps(None))
        return

    def conv(v):
        if isinstance(v, (list, tuple)):
            return {'list': [conv(x) for x in v]}
        if isinstance(v, dict):
            return {'dict': [[conv(k), conv(x)] for k, x in sorted(v.items())]}
        return {type(v).__name__: v}

    out = {
        'session_id': session.session_id,
        'user_id': session.user_id,
        'user_id_type': type(session.user_id).__name__,
        'expires': session.expires,
        'renewed': session.expires > time.time() + 3600,
        'key': session.key,
        'state': dict((k, conv(v)) for k, v in session.state.items()),
        'hmac': session.key and session.hmac(request['sign'].encode('utf-8')) or None,
    }
    print(json.dumps(out, sort_keys=True))


if __name__ == '__main__':
    main()
