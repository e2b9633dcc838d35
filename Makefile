# toto-session: build, test, install and demo.
#   make            build the shared and static library (target/release)
#   make test       install missing tools, then every check (Rust, C and C++ under valgrind)
#   make demo       build and run the C walk-through
#   make install    PREFIX=/usr/local DESTDIR= : library, header, pkg-config file
#   make header     regenerate include/toto_session.h after changing src/ffi
#   make clean

CARGO     ?= cargo
PREFIX    ?= /usr/local
DESTDIR   ?=
LIBDIR    ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CC        ?= cc
C_WARN    := -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS    ?= -O1 -g
CXX       ?= g++
CXX_WARN  := -std=c++17 -Wall -Wextra -Werror
CXXFLAGS  ?= -O1 -g

VERSION   := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR     := $(firstword $(subst ., ,$(VERSION)))
RELEASE   := target/release
BUILD     := $(CURDIR)/build
STAGE     := $(BUILD)/stage
PC        := PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config
VALGRIND  := valgrind -q --error-exitcode=99 --leak-check=full \
             --errors-for-leak-kinds=definite,indirect,possible \
             --show-leak-kinds=definite,indirect,possible --track-origins=yes
# Compiling and linking against the staged install, as a user would (for recipes).
STAGE_CFLAGS = $$($(PC) --cflags toto_session)
SHARED_LINK  = $$($(PC) --libs toto_session) -Wl,-rpath,$(STAGE)/lib
STATIC_LINK  = $(STAGE)/lib/libtoto_session.a \
               $$($(PC) --libs-only-l --static toto_session | sed 's/-ltoto_session//')

C_TESTS   := $(patsubst tests/c/%.c,%,$(wildcard tests/c/test_*.c))
C_SUPPORT := $(filter-out $(wildcard tests/c/test_*.c),$(wildcard tests/c/*.c))
CPP_PROGS := $(patsubst tests/cpp/%.cpp,%,$(wildcard tests/cpp/*.cpp))
RUST_SRC  := $(shell find src -name '*.rs') build.rs cbindgen.toml Cargo.toml

.PHONY: all lib deps header install stage test test-rust lint test-c test-cpp run-cpp-tests test-docs test-go test-ruby run-c-tests test-cross fuzz test-asan run-asan-tests demo bench clean

all: lib

lib: $(RELEASE)/libtoto_session.so

$(RELEASE)/libtoto_session.so: $(RUST_SRC)
	$(CARGO) build --release
	@touch $@

deps:
	scripts/install-deps.sh core redis

header:
	TOTO_SESSION_WRITE_HEADER=1 $(CARGO) build --release

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(RELEASE)/libtoto_session.a $(DESTDIR)$(LIBDIR)/libtoto_session.a
	install -m 755 $(RELEASE)/libtoto_session.so $(DESTDIR)$(LIBDIR)/libtoto_session.so.$(VERSION)
	ln -sf libtoto_session.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libtoto_session.so.$(MAJOR)
	ln -sf libtoto_session.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libtoto_session.so
	install -m 644 include/toto_session.h $(DESTDIR)$(INCLUDEDIR)/toto_session.h
	install -m 644 include/toto_session.hpp $(DESTDIR)$(INCLUDEDIR)/toto_session.hpp
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    toto_session.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/toto_session.pc

# A private install that the C tests and the demo compile against, exactly as a user
# would (installed header, pkg-config flags).
stage: lib
	@$(MAKE) --no-print-directory install PREFIX=$(STAGE) DESTDIR= >/dev/null

test: deps lint test-rust test-c test-cpp test-docs test-go test-ruby test-cross
	@echo "make test: all checks passed"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

test-rust:
	$(CARGO) test

# Each tests/c/test_*.c is one program, linked twice: against the shared library (run
# under valgrind: zero errors, zero leaks) and against the static one.
test-c: stage
	@mkdir -p $(BUILD)/c
	@set -e; for t in $(C_TESTS); do \
	  $(CC) $(C_WARN) $(CFLAGS) $(STAGE_CFLAGS) tests/c/$$t.c $(C_SUPPORT) \
	    -o $(BUILD)/c/$$t.shared $(SHARED_LINK); \
	  $(CC) $(C_WARN) $(CFLAGS) $(STAGE_CFLAGS) tests/c/$$t.c $(C_SUPPORT) \
	    -o $(BUILD)/c/$$t.static $(STATIC_LINK); \
	done
	scripts/check-c-coverage.sh $(RELEASE)/libtoto_session.so tests/c
	@scripts/with-redis.sh $(MAKE) --no-print-directory run-c-tests

# The built C tests, run with TOTO_REDIS_URL set (see test-c).
run-c-tests:
	@set -e; for t in $(C_TESTS); do \
	  echo "== $$t (static)"; $(BUILD)/c/$$t.static; \
	  echo "== $$t (shared, valgrind)"; $(VALGRIND) $(BUILD)/c/$$t.shared; \
	done

# The C++ wrapper (include/toto_session.hpp), against the staged install like a user:
# the header alone compiles warning-free (also -Wpedantic, included twice); the
# ```cpp block of docs/cpp.md is tests/cpp/example_doc.cpp; every tests/cpp/*.cpp is
# linked shared (run under valgrind) and static, and run with a private Redis; the
# example is built once more outside the tree against a fresh `make install`.
test-cpp: stage
	@scripts/install-deps.sh core redis
	@mkdir -p $(BUILD)/cpp
	printf '#include <toto_session.hpp>\n#include <toto_session.hpp>\n' | \
	  $(CXX) $(CXX_WARN) -Wpedantic $(STAGE_CFLAGS) -x c++ -fsyntax-only -
	@awk '/^```cpp[ \t]*$$/ { inside = 1; next } /^```[ \t]*$$/ { inside = 0 } inside' docs/cpp.md | \
	  diff -u tests/cpp/example_doc.cpp - || \
	  { echo "test-cpp: the \`\`\`cpp block of docs/cpp.md differs from tests/cpp/example_doc.cpp" >&2; exit 1; }
	@set -e; for t in $(CPP_PROGS); do \
	  echo "== build $$t"; \
	  $(CXX) $(CXX_WARN) $(CXXFLAGS) $(STAGE_CFLAGS) tests/cpp/$$t.cpp -o $(BUILD)/cpp/$$t.shared $(SHARED_LINK); \
	  $(CXX) $(CXX_WARN) $(CXXFLAGS) $(STAGE_CFLAGS) tests/cpp/$$t.cpp -o $(BUILD)/cpp/$$t.static $(STATIC_LINK); \
	done
	@scripts/with-redis.sh $(MAKE) --no-print-directory run-cpp-tests
	@echo "== example_doc outside the tree (make install PREFIX=<temporary directory>)"
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  $(MAKE) --no-print-directory install PREFIX=$$tmp >/dev/null; \
	  cp tests/cpp/example_doc.cpp $$tmp/; cd $$tmp; export PKG_CONFIG_PATH=$$tmp/lib/pkgconfig; \
	  $(CXX) $(CXX_WARN) $(CXXFLAGS) $$(pkg-config --cflags toto_session) example_doc.cpp -o example_doc \
	    $$(pkg-config --libs toto_session) -Wl,-rpath,$$tmp/lib; \
	  ./example_doc >/dev/null
# The built C++ programs, run with TOTO_REDIS_URL set (see test-cpp).
run-cpp-tests:
	@set -e; for t in $(CPP_PROGS); do \
	  echo "== $$t (static)"; $(BUILD)/cpp/$$t.static; \
	  echo "== $$t (shared, valgrind)"; $(VALGRIND) $(BUILD)/cpp/$$t.shared; \
	done

# The README's C example compiles and runs as written; its result-code table matches
# the header.
test-docs: stage
	scripts/check-readme.sh "$(STAGE)"

# Go binding: go vet + go test -race (links the static library by default).
test-go: stage
	scripts/install-deps.sh go
	bindings/go/test.sh "$(STAGE)"

# Ruby binding: minitest suite through the ffi gem (loads the shared library).
test-ruby: stage
	scripts/install-deps.sh ruby
	bindings/ruby/test.sh "$(STAGE)"

# The C walk-through of the whole Toto flow: examples/c/demo.c over the SQLite account
# store in examples/c/sqlite_store.c (database $(BUILD)/demo.sqlite3, kept between runs)
# and the memory cache, or Redis when TOTO_REDIS_URL is set (scripts/with-redis.sh).
# One session shared through one Redis by C, Go and Ruby (tests/cross).
test-cross: stage
	scripts/install-deps.sh go ruby redis
	tests/cross/run.sh "$(STAGE)"

demo: stage
	@scripts/install-deps.sh core
	@mkdir -p $(BUILD)
	$(CC) $(C_WARN) $(CFLAGS) $$($(PC) --cflags toto_session) \
	  examples/c/demo.c examples/c/sqlite_store.c -o $(BUILD)/demo \
	  $$($(PC) --libs toto_session) -lsqlite3 -pthread -Wl,-rpath,$(STAGE)/lib
	$(BUILD)/demo $(BUILD)/demo.sqlite3

# AddressSanitizer + LeakSanitizer: the Rust tests (nightly -Zsanitizer=address, own
# target dir) and the C and C++ suites (-fsanitize=address,undefined, static library).
HOST      := $(shell rustc -vV | sed -n 's/^host: //p')
ASAN_ENV  := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
test-asan: deps stage
	$(ASAN_ENV) RUSTFLAGS="-Zsanitizer=address" $(CARGO) +nightly test --target $(HOST) \
	  --target-dir target/asan --tests
	@mkdir -p $(BUILD)/asan
	@set -e; for t in $(C_TESTS); do \
	  $(CC) $(C_WARN) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	    $(STAGE_CFLAGS) tests/c/$$t.c $(C_SUPPORT) -o $(BUILD)/asan/$$t $(STATIC_LINK); \
	done
	@set -e; for t in $(CPP_PROGS); do \
	  $(CXX) $(CXX_WARN) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	    $(STAGE_CFLAGS) tests/cpp/$$t.cpp -o $(BUILD)/asan/cpp_$$t $(STATIC_LINK); \
	done
	@$(ASAN_ENV) scripts/with-redis.sh $(MAKE) --no-print-directory run-asan-tests

run-asan-tests:
	@set -e; for t in $(C_TESTS); do echo "== $$t (ASan)"; $(BUILD)/asan/$$t; done
	@set -e; for t in $(CPP_PROGS); do echo "== $$t (C++, ASan)"; $(BUILD)/asan/cpp_$$t; done

# Coverage-guided fuzzing (cargo fuzz, nightly, libFuzzer): each target for
# FUZZ_SECONDS (default 60). Corpora grow in fuzz/corpus (not committed); a crash
# leaves a reproducer in fuzz/artifacts/<target>/: fix the bug, then copy the file to
# fuzz/regressions/<target>/ so `make test` replays it forever.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= record cbor_value json password ffi
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
	  $(CARGO) +nightly fuzz run $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; \
	done

# Benchmarks, never part of make test: the Rust core, C through the ABI, the peers
# (OpenSSL HMAC, CPython's Toto path, tower-sessions), scale (1 k-1 M sessions,
# threads), Redis vs redis-benchmark, and the Go/Ruby bindings' own benchmarks when
# present. One table on stdout, the same in bench/results.json (see bench/run.py).
bench:
	scripts/install-deps.sh core redis bench
	@$(MAKE) --no-print-directory stage
	python3 bench/run.py --stage "$(STAGE)"

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
