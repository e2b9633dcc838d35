# toto-session: build, test, install and demo.
#   make            build the shared and static library (target/release)
#   make test       install missing tools, then every check (Rust, C and C++ under valgrind)
#   make demo       build and run the C walk-through
#   make serve-go   run the Go example Toto service on PORT (default 8080)
#   make serve-ruby run the Ruby example service (Toto's protocol over Rack, PORT=8080)
#   make install    PREFIX=/usr/local DESTDIR= : stripped libraries, headers, pkg-config files
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
SHARED_LINK  = $$($(PC) --libs toto_session)
STATIC_LINK  = $$($(PC) --libs toto_session-static)

C_TESTS   := $(patsubst tests/c/%.c,%,$(wildcard tests/c/test_*.c))
C_SUPPORT := $(filter-out $(wildcard tests/c/test_*.c),$(wildcard tests/c/*.c))
CPP_PROGS := $(patsubst tests/cpp/%.cpp,%,$(wildcard tests/cpp/*.cpp))
RUST_SRC  := $(shell find src -name '*.rs') build.rs cbindgen.toml Cargo.toml

.PHONY: all lib deps header install stage test test-rust lint test-c test-cpp run-cpp-tests test-docs test-go test-ruby run-c-tests test-cross test-cluster run-cluster-tests test-outside test-conformance serve-go serve-ruby fuzz test-asan run-asan-tests demo bench clean

all: lib

lib: $(RELEASE)/libtoto_session.so $(RELEASE)/libtoto_session.so.$(MAJOR)

# The soname symlink (libtoto_session.so.$(MAJOR)) is made in the build output too, so
# a program linked straight against target/release also starts.
$(RELEASE)/libtoto_session.so: $(RUST_SRC)
	$(CARGO) build --release
	@touch $@

$(RELEASE)/libtoto_session.so.$(MAJOR): $(RELEASE)/libtoto_session.so
	ln -sf libtoto_session.so $@

deps:
	scripts/install-deps.sh core redis

header:
	TOTO_SESSION_WRITE_HEADER=1 $(CARGO) build --release

# Installed files are stripped (debug info stays in target/release for perf and gdb).
# Two pkg-config modules: toto_session (shared; its Libs carry an rpath to LIBDIR, so a
# program linked against any prefix starts without LD_LIBRARY_PATH) and
# toto_session-static (the archive). ldconfig runs for a real install (no DESTDIR) as
# root, so the dynamic loader's cache (used by dlopen, e.g. Ruby's ffi) sees it.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
             -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'
install: lib
	@scripts/install-deps.sh core
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(RELEASE)/libtoto_session.a $(DESTDIR)$(LIBDIR)/libtoto_session.a
	strip --strip-debug $(DESTDIR)$(LIBDIR)/libtoto_session.a
	install -m 755 $(RELEASE)/libtoto_session.so $(DESTDIR)$(LIBDIR)/libtoto_session.so.$(VERSION)
	strip --strip-unneeded $(DESTDIR)$(LIBDIR)/libtoto_session.so.$(VERSION)
	ln -sf libtoto_session.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libtoto_session.so.$(MAJOR)
	ln -sf libtoto_session.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libtoto_session.so
	install -m 644 include/toto_session.h $(DESTDIR)$(INCLUDEDIR)/toto_session.h
	install -m 644 include/toto_session.hpp $(DESTDIR)$(INCLUDEDIR)/toto_session.hpp
	$(PC_SED) toto_session.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/toto_session.pc
	$(PC_SED) toto_session-static.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/toto_session-static.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

# A private install that the C tests and the demo compile against, exactly as a user
# would (installed header, pkg-config flags).
stage: lib
	@$(MAKE) --no-print-directory install PREFIX=$(STAGE) DESTDIR= >/dev/null

# Every step runs in its own make under scripts/deps-guard.sh: a step that uses go,
# ruby, redis-server, valgrind, ... without running scripts/install-deps.sh for it
# first fails here, as it would on a fresh machine, instead of passing because an
# earlier step installed the tool.
TEST_STEPS := lint test-rust test-c test-cpp test-docs test-go test-ruby test-cross test-cluster test-conformance test-outside demo
test:
	@scripts/install-deps.sh core
	@set -e; for t in $(TEST_STEPS); do \
	  echo "== make $$t"; scripts/deps-guard.sh $(MAKE) --no-print-directory $$t; \
	done
	@echo "make test: all checks passed"

# Formatting (the library, the bench and fuzz crates), clippy, rustdoc without warnings
# (its doctests run in test-rust), and
# ARCHITECTURE.md's folder map against the tree.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --manifest-path bench/Cargo.toml -- --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --quiet
	scripts/check-architecture.sh
	python3 bench/test_run.py

# The Toto fixtures (tests/toto_fixtures) are regenerated with Toto's own code and
# compared first, when Python 2.7 is available (scripts/check-toto-fixtures.sh).
test-rust:
	@scripts/install-deps.sh core redis
	scripts/check-toto-fixtures.sh
	$(CARGO) test

# Each tests/c/test_*.c is one program, linked twice: against the shared library (run
# under valgrind: zero errors, zero leaks) and against the static one.
test-c: stage
	@scripts/install-deps.sh core redis
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
# linked shared (run under valgrind) and static, and run with a private Redis
# (tests/outside builds the example against a fresh `make install` too).
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

# The built C++ programs, run with TOTO_REDIS_URL set (see test-cpp).
run-cpp-tests:
	@set -e; for t in $(CPP_PROGS); do \
	  echo "== $$t (static)"; $(BUILD)/cpp/$$t.static; \
	  echo "== $$t (shared, valgrind)"; $(VALGRIND) $(BUILD)/cpp/$$t.shared; \
	done

# The README's and docs/' code blocks compile and run as written (C, Go, Ruby); the
# result-code table matches the header.
test-docs: stage
	@scripts/install-deps.sh core go ruby
	scripts/check-readme.sh "$(STAGE)"

# Go binding: go vet + go test -race, shared and static (flags from pkg-config).
test-go: stage
	@scripts/install-deps.sh core go redis
	bindings/go/test.sh "$(STAGE)"

# Ruby binding: minitest suite through the ffi gem (loads the shared library).
test-ruby: stage
	@scripts/install-deps.sh core ruby redis
	bindings/ruby/test.sh "$(STAGE)"

# One session shared through one Redis by C, Go and Ruby (tests/cross).
test-cross: stage
	@scripts/install-deps.sh core go ruby redis
	tests/cross/run.sh "$(STAGE)"

# The Redis cache on a Redis Cluster (3 masters + 3 replicas on loopback, started once
# for the step by scripts/with-redis-cluster.sh and always stopped): tests/redis_cluster.rs
# (its cluster tests are #[ignore]d in a plain cargo test; here they run, and a missing
# cluster is a failure), then the cross-language test against the cluster.
test-cluster: stage
	@scripts/install-deps.sh core go ruby redis
	scripts/with-redis-cluster.sh $(MAKE) --no-print-directory run-cluster-tests

# Run by test-cluster, with TOTO_REDIS_CLUSTER_URL set.
run-cluster-tests:
	$(CARGO) test --test redis_cluster -- --include-ignored
	tests/cross/run.sh "$(STAGE)" cluster

# Toto wire conformance over real HTTP (tests/conformance): the Go and the Ruby example
# services, each in four configurations (HMAC on, HMAC off, cookies + listed CORS
# origins, a short TTL) driven by
# tests/conformance/client.py, a Toto client in Python's standard library.
test-conformance: stage
	@scripts/install-deps.sh core go ruby
	tests/conformance/run.sh "$(STAGE)" go
	tests/conformance/run.sh "$(STAGE)" ruby

# The Go example Toto service (bindings/go/examples/go-server) on PORT (default 8080),
# mounted at /: HMAC on unless TOTO_HMAC=off, memory backends or a Redis session cache
# at TOTO_REDIS_URL, TOTO_COOKIES=on, TOTO_ALLOW_ORIGIN=a,b, TOTO_SESSION_TTL=seconds.
# Ctrl-C stops it.
serve-go: stage
	@scripts/install-deps.sh core go
	@mkdir -p $(BUILD)/go
	cd bindings/go && PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig GOPROXY=off GOWORK=off \
	  GOCACHE=$(BUILD)/go/cache GOPATH=$(BUILD)/go/path go build -o $(BUILD)/go/go-server ./examples/go-server
	exec $(BUILD)/go/go-server

# Used the way users use it (tests/outside): make install into a temporary prefix,
# then C (shared and static), Go (a module outside the tree, shared and static) and
# Ruby (gem build + gem install, Bundler path) programs that know only that prefix.
test-outside: lib
	@scripts/install-deps.sh core go ruby
	tests/outside/run.sh

# The C walk-through of the whole Toto flow: examples/c/demo.c over the SQLite account
# store in examples/c/sqlite_store.c (database $(BUILD)/demo.sqlite3, kept between runs)
# and the memory cache, or Redis when TOTO_REDIS_URL is set; with TOTO_ACCOUNTS=redis
# too, the accounts live in Redis in Python Toto's layout (toto_account_store_new_redis).
demo: stage
	@scripts/install-deps.sh core
	@mkdir -p $(BUILD)
	$(CC) $(C_WARN) $(CFLAGS) $$($(PC) --cflags toto_session) \
	  examples/c/demo.c examples/c/sqlite_store.c -o $(BUILD)/demo \
	  $$($(PC) --libs toto_session) -lsqlite3 -pthread
	$(BUILD)/demo $(BUILD)/demo.sqlite3

# The Ruby example service (bindings/ruby/examples/rack_app.rb): Toto's protocol over
# Rack under WEBrick on PORT (default 8080), HMAC on unless TOTO_HMAC=off, cookies with
# TOTO_COOKIES=on, CORS origins from TOTO_ALLOW_ORIGIN, the Redis cache when
# TOTO_REDIS_URL is set, TOTO_SESSION_TTL=seconds. Stops on Ctrl-C / SIGTERM.
serve-ruby: stage
	@scripts/install-deps.sh core ruby
	TOTO_SESSION_LIB=$(STAGE)/lib/libtoto_session.so exec ruby -Ibindings/ruby/lib bindings/ruby/examples/rack_app.rb

# AddressSanitizer + LeakSanitizer: the Rust tests (nightly -Zsanitizer=address, own
# target dir) and the C and C++ suites (-fsanitize=address,undefined, static library).
HOST      := $(shell rustc -vV | sed -n 's/^host: //p')
ASAN_ENV  := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
test-asan: stage
	@scripts/install-deps.sh core redis
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
FUZZ_TARGETS ?= record cbor_value json password ffi toto_pickle client_token
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
	  $(CARGO) +nightly fuzz run $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; \
	done

# Benchmarks, never part of make test: the Rust core, C through the ABI, the peers
# (OpenSSL HMAC, CPython's Toto path, tower-sessions, gorilla/sessions, Rack::Session),
# scale (1 k-1 M sessions, threads), Redis (and Cluster) vs redis-benchmark, and the
# Go/Ruby bindings' benchmarks, each ratio from interleaved rounds. One table on
# stdout, the same in bench/results.json and docs/performance.md (see bench/README.md).
# BENCH_FILTER=regex runs only the matching parts/rows; BENCH_ARGS adds options to
# bench/run.py (e.g. --no-regression-check). Fails when a row regressed.
bench:
	@start=$$(date +%s); \
	scripts/install-deps.sh core go ruby redis bench && \
	$(MAKE) --no-print-directory stage && \
	python3 bench/run.py --stage "$(STAGE)" $(BENCH_ARGS); \
	rc=$$?; echo "make bench: $$(( $$(date +%s) - start )) s in all (install, build, run)"; \
	exit $$rc

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
