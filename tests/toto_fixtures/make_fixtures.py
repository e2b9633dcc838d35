# -*- coding: utf-8 -*-
"""Writes tests/toto_fixtures/fixtures.json: accounts and sessions exactly as Python
Toto 1.0.10 stores them in Redis, made by Toto's own code; and fixtures.txt, the same
as flat lines for the C tests (one record per line, fields space-separated, text
fields hex-encoded):

    string KEY VALUE TTL        a Redis string (SETEX KEY TTL VALUE)
    hash KEY FIELD VALUE        one field of a Redis hash
    account USER PASSWORD       an account and its password in clear
    session ID USER KEY         a session (KEY "-" when it has none)
    state ID NAME JSON          one state value as compact JSON (dict keys sorted)
    request ID METHOD URI BODY HMAC   a request Toto's key signed (HMAC in clear)
    bad ID                      a session whose state holds a type not allowed

Run with Python 2.7 (Toto is Python 2 code) and the `pbkdf2` package Toto's secret.py
imports:

    PYENV_VERSION=2.7.18 python tests/toto_fixtures/make_fixtures.py [OUT.json]

Toto's source is taken from ../shared/reference/toto-1.0.10 beside the repository
(override with TOTO_SOURCE). Its classes run as they are: DBConnection.create_account,
create_session and retrieve_session, RedisConnection._store_account, RedisSession.save,
RedisSessionCache (cPickle.dumps of session_data(), SETEX with int(expires - now)).
What this script supplies around them:

- a recording stand-in for redis.StrictRedis that stores what redis-py would send
  (str() of values, repr() of floats, UTF-8 of unicode), so no redis package and no
  server are needed;
- stand-ins for the tornado modules dbconnection.py imports (nothing of them is used
  by the code paths run here);
- the two fixes TOTO.md lists for RedisConnection as shipped (its __init__ and its
  _get_account cannot run): the connection is made without __init__ and _get_account
  does what its docstring says (the account's user_id and password, None when absent);
- fixed randomness and a fixed clock, so the output is byte-for-byte reproducible:
  `make test` regenerates the file and compares it with the committed one.

Nothing here is used at run time by the library or its tests: the committed JSON is.
"""
import base64
import json
import os
import random
import sys
import types
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOTO_SOURCE = os.environ.get('TOTO_SOURCE') or os.path.join(
    REPO, '..', 'shared', 'reference', 'toto-1.0.10')

# A fixed clock: 2026-01-01T00:00:00.125Z. Sessions live 30 years from it, so the
# committed fixtures stay live for the tests.
NOW = 1767225600.125
SESSION_TTL = 30 * 365 * 24 * 60 * 60


def stub_modules():
    """The tornado modules dbconnection.py and tasks.py import, and redis."""
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class Anything(object):
        def __init__(self, *a, **k):
            pass

        def __getattr__(self, name):
            return None

    tornado = module('tornado')
    tornado.gen = module('tornado.gen', coroutine=lambda f: f, Return=Exception)
    tornado.concurrent = module('tornado.concurrent', Future=Anything)
    tornado.ioloop = module('tornado.ioloop', IOLoop=Anything)
    tornado.options = module('tornado.options', define=lambda *a, **k: None,
                             options=Anything())
    module('redis', StrictRedis=Anything)


class RecordingRedis(object):
    """The subset of redis-py 2.x's StrictRedis that Toto's Redis code calls, storing
    values as redis-py would send them."""

    def __init__(self):
        self.strings = {}  # key -> (value, ttl)
        self.hashes = {}   # key -> {field: value}

    @staticmethod
    def encode(value):
        if isinstance(value, str):
            return value
        if isinstance(value, unicode):
            return value.encode('utf-8')
        if isinstance(value, float):
            return repr(value)
        return str(value)

    def setex(self, name, time, value):
        assert time > 0, 'SETEX needs a positive ttl'
        self.strings[name] = (self.encode(value), int(time))

    def get(self, name):
        entry = self.strings.get(name)
        return entry and entry[0]

    def delete(self, *names):
        for n in names:
            self.strings.pop(n, None)
            self.hashes.pop(n, None)

    def hmset(self, name, mapping):
        h = self.hashes.setdefault(name, {})
        for k, v in mapping.items():
            h[self.encode(k)] = self.encode(v)

    def hset(self, name, key, value):
        self.hashes.setdefault(name, {})[self.encode(key)] = self.encode(value)

    def hmget(self, name, keys, *args):
        if isinstance(keys, basestring):
            keys = [keys]
        h = self.hashes.get(name, {})
        return [h.get(self.encode(k)) for k in list(keys) + list(args)]


def load_toto():
    if not os.path.isfile(os.path.join(TOTO_SOURCE, 'session.py')):
        sys.exit('make_fixtures: Toto 1.0.10 source not found at %s (set TOTO_SOURCE)'
                 % TOTO_SOURCE)
    stub_modules()
    # Toto's modules import each other as `toto.x`: make the folder the package `toto`.
    import imp
    pkg = imp.load_module('toto', None, os.path.abspath(TOTO_SOURCE),
                          ('', '', imp.PKG_DIRECTORY))
    sys.path.insert(0, os.path.abspath(TOTO_SOURCE))
    import toto.session
    import toto.dbconnection
    import toto.redisconnection
    return pkg


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, 'fixtures.json')
    load_toto()
    import toto.session as ts
    import toto.dbconnection as tdb
    import toto.redisconnection as trc

    # Fixed randomness (pbkdf2's salts come from `random`) and a fixed clock.
    random.seed(20260101)
    ts.uuid4 = lambda: uuid.UUID(bytes=''.join(
        chr(random.randint(0, 255)) for _ in range(16)), version=4)
    tdb.time = lambda: NOW
    trc.time = lambda: NOW

    db = RecordingRedis()
    conn = trc.RedisConnection.__new__(trc.RedisConnection)
    tdb.DBConnection.__init__(conn, session_ttl=SESSION_TTL, anon_session_ttl=SESSION_TTL)
    conn.db = db

    def get_account(user_id):
        user, password = db.hmget(trc._account_key(user_id), 'user_id', 'password')
        return password is not None and {'user_id': user, 'password': password} or None
    conn._get_account = get_account
    conn.set_session_cache(trc.RedisSessionCache(db))

    accounts = [
        # (user id as typed, password, extra account values)
        ('Alice', 'correct horse battery staple', {'email': 'alice@example.com',
                                                   'name': u'Zo\xeb', 'visits': 42}),
        ('bob', u'p\xe4ssw\xf6rd', {}),
    ]
    for user_id, password, values in accounts:
        conn.create_account(user_id, password, **values)

    sessions = []

    # alice: logged in with an HMAC key (what account.login does with hmac_enabled),
    # then state of every type Toto sessions hold, saved by RedisSession.save().
    alice = conn.create_session('alice', 'correct horse battery staple',
                                key=ts.TotoSession.generate_id())
    alice['text'] = 'plain str'
    alice['unicode'] = u'caf\xe9 \u2603'
    alice['int'] = 7
    alice['long'] = long(2 ** 40)
    alice['float'] = 0.25
    alice['true'] = True
    alice['false'] = False
    alice['none'] = None
    alice['zero'] = 0
    alice['list'] = [1, 'two', u'thr\xe9e', [4.5, None]]
    alice['tuple'] = (1, 'a')
    alice['dict'] = {'nested': {'deep': [True]}, 'n': -3}
    alice.save()
    method, uri, body = 'POST', '/account/update?lang=en', '{"method": "x", "parameters": {}}'
    sessions.append((alice, {'method': method, 'uri': uri, 'body': body,
                             'hmac': alice.hmac(method + uri + body)}))

    # bob: a session without a key, one state value, renewed once by Toto's
    # retrieve_session (the path every request takes).
    bob = conn.create_session('bob', u'p\xe4ssw\xf6rd')
    bob['cart'] = ['apple', 'pear']
    bob.save()
    bob = conn.retrieve_session(bob.session_id)
    sessions.append((bob, None))

    # An anonymous session as create_session stores it: no `state` field at all.
    anon = conn.create_session()
    sessions.append((anon, None))

    # A session whose state holds something Toto can pickle but a session here may
    # not: a datetime (a class instance). Reading it must fail for it alone.
    import datetime
    odd = conn.create_session('alice', 'correct horse battery staple')
    odd['when'] = datetime.datetime(2020, 1, 2, 3, 4, 5)
    odd.save()
    bad = [{'session_id': odd.session_id, 'why': 'a datetime in the state'}]

    def b64(s):
        return base64.b64encode(s)

    redis_keys = []
    for key in sorted(db.strings):
        value, ttl = db.strings[key]
        redis_keys.append({'type': 'string', 'key': key, 'value_b64': b64(value),
                           'setex_ttl': ttl})
    for key in sorted(db.hashes):
        fields = db.hashes[key]
        redis_keys.append({'type': 'hash', 'key': key,
                           'fields_b64': dict((f, b64(v)) for f, v in sorted(fields.items()))})

    def expected_state(session):
        def conv(v):
            if isinstance(v, tuple):
                return [conv(x) for x in v]
            if isinstance(v, list):
                return [conv(x) for x in v]
            if isinstance(v, dict):
                return dict((k, conv(x)) for k, x in v.items())
            if isinstance(v, str):
                return v.decode('utf-8')
            return v
        return dict((k, conv(v)) for k, v in session.state.items())

    fixture = {
        'about': 'Made by tests/toto_fixtures/make_fixtures.py with Toto 1.0.10 under '
                 'Python %s: Redis keys and values exactly as Toto stores them.'
                 % sys.version.split()[0],
        'now': NOW,
        'redis': redis_keys,
        'accounts': [{'user_id': u.lower(), 'password': p,
                      'fields': dict((k, RecordingRedis.encode(v).decode('utf-8'))
                                     for k, v in values.items())}
                     for u, p, values in accounts],
        'sessions': [{'session_id': s.session_id, 'user_id': s.user_id,
                      'expires': s.expires, 'key': s.key,
                      'state': expected_state(s), 'request': req}
                     for s, req in sessions],
        'bad_sessions': bad,
    }
    text = json.dumps(fixture, indent=1, sort_keys=True, ensure_ascii=True)
    with open(out, 'w') as f:
        f.write(text + '\n')
    sys.stderr.write('make_fixtures: wrote %s\n' % out)

    def h(s):
        if isinstance(s, unicode):
            s = s.encode('utf-8')
        return s.encode('hex') or '-'
    lines = []
    for key in sorted(db.strings):
        value, ttl = db.strings[key]
        lines.append('string %s %s %d' % (h(key), h(value), ttl))
    for key in sorted(db.hashes):
        for field, value in sorted(db.hashes[key].items()):
            lines.append('hash %s %s %s' % (h(key), h(field), h(value)))
    for a in fixture['accounts']:
        lines.append('account %s %s' % (h(a['user_id']), h(a['password'])))
    for s, req in sessions:
        lines.append('session %s %s %s' % (s.session_id, h(s.user_id), s.key or '-'))
        for name, value in s.state.items():
            lines.append('state %s %s %s' % (s.session_id, h(name), h(json.dumps(
                expected_state(s)[name], separators=(',', ':'), ensure_ascii=False,
                sort_keys=True))))
        if req:
            lines.append('request %s %s %s %s %s' % (s.session_id, h(req['method']),
                                                     h(req['uri']), h(req['body']),
                                                     req['hmac']))
    for b in bad:
        lines.append('bad %s' % b['session_id'])
    flat = os.path.splitext(out)[0] + '.txt'
    with open(flat, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    sys.stderr.write('make_fixtures: wrote %s\n' % flat)


if __name__ == '__main__':
    main()
