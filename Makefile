# nexus — one static library, one small program per job.
#
#   make                 lib/libnexus.a and bin/nexus-*
#   make check           install missing deps, build, run every test (unit, bats, fuzz)
#   make asan            the same build and tests under ASan+UBSan (build/asan/), then tsan
#   make tsan            the hub's threaded suites under ThreadSanitizer (build/tsan/)
#   make demo            install, build, run the main job end to end on this machine
#   make install PREFIX=/usr/local
#
# Adding a command, a lib module, a unit test, a fuzz target or a test helper needs no edit
# here: cmd/nexus-*.c, lib/<subsystem>/*.c, tests/unit/test_*.c, tests/fuzz/fuzz_*.c, tests/helpers/*.c
# are picked up by name.

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
FUZZCC   ?= clang

ifeq ($(SANITIZE),1)
OUT      := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),thread)
OUT      := build/tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
OUT      := .
SANFLAGS :=
endif
OBJ      := $(if $(SANFLAGS),$(OUT)/obj,build/obj)
BIN      := $(OUT)/bin
LIBA     := $(OUT)/lib/libnexus.a

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
OPT      ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -DNEXUS_VERSION='"$(VERSION)"' $(OPT) \
            -Wall -Wextra -Werror -Wno-unused-parameter -Ilib -I/usr/include/postgresql \
            -fstack-protector-strong -MMD -MP $(SANFLAGS)
LDFLAGS  += $(SANFLAGS) -Wl,--as-needed
# --as-needed keeps each binary's DT_NEEDED to what it really calls, so every command can be
# linked against the same list without nexus-token pulling in librdkafka.
LDLIBS   := -lbearssl -ljansson -lmosquitto -lrdkafka -lsqlite3 -lpq -lqrencode \
            -lsystemd -lpthread -lm

LIB_SRC  := $(wildcard lib/*/*.c)
LIB_OBJ  := $(LIB_SRC:lib/%.c=$(OBJ)/lib/%.o)
CMD_SRC  := $(wildcard cmd/nexus-*.c)
CMDS     := $(CMD_SRC:cmd/%.c=$(BIN)/%)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(BIN)/tests/%)
HELP_SRC := $(wildcard tests/helpers/*.c)
HELPERS  := $(HELP_SRC:tests/helpers/%.c=$(BIN)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_OBJ := $(LIB_SRC:lib/%.c=build/fuzz/obj/%.o)
FUZZERS  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
MAN_SRC  := $(wildcard man/*.scd)
MANS     := $(MAN_SRC:.scd=)

.PHONY: all deps check asan tsan fuzz tests man demo install clean
all: $(LIBA) $(CMDS) man

$(OBJ)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BIN)/nexus-%: cmd/nexus-%.c $(LIBA)
	@mkdir -p $(@D) $(OBJ)/cmd
	$(CC) $(CFLAGS) -MF $(OBJ)/cmd/nexus-$*.d $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(BIN)/tests/%: tests/unit/%.c $(LIBA)
	@mkdir -p $(@D) $(OBJ)/tests
	$(CC) $(CFLAGS) -MF $(OBJ)/tests/$*.d $(LDFLAGS) -o $@ $< $(LIBA) -lcmocka $(LDLIBS)

$(BIN)/tests/%: tests/helpers/%.c $(LIBA)
	@mkdir -p $(@D) $(OBJ)/tests
	$(CC) $(CFLAGS) -MF $(OBJ)/tests/$*.d $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# Fuzz targets: clang, libFuzzer, ASan+UBSan, lib compiled with the same instrumentation.
FUZZFLAGS := -std=c11 -D_GNU_SOURCE -DNEXUS_VERSION='"$(VERSION)"' -g -O1 -Ilib \
             -I/usr/include/postgresql -fsanitize=address,undefined -fno-sanitize-recover=undefined
build/fuzz/obj/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(FUZZ_OBJ)
	@mkdir -p $(@D)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(LDLIBS)

# keep the instrumented objects between runs (they are intermediates of a pattern chain)
.SECONDARY: $(FUZZ_OBJ)

man/%: man/%.scd
	scdoc < $< > $@

man: $(MANS)
tests: $(UNITS) $(HELPERS)
fuzz: $(FUZZERS)

deps:
	@scripts/install-deps

# The sanitizer build reruns unit and bats suites; the fuzzers are ASan+UBSan builds already.
check: deps
	$(MAKE) all tests
	$(if $(filter 1,$(SANITIZE)),,$(MAKE) fuzz)
	scripts/run-tests --bindir $(BIN) $(if $(filter 1,$(SANITIZE)),--no-fuzz)

# Then the suites that drive the hub's worker threads, under ThreadSanitizer: a data race
# or a lock-order inversion ends the program (exit 66), which fails its test.
TSAN_SUITES := hub-workers,tunnel-connections,hub-reload,hub-metrics,tunnel-backend-reload
asan:
	$(MAKE) SANITIZE=1 check
	$(MAKE) tsan

tsan: deps
	$(MAKE) SANITIZE=thread all tests
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  scripts/run-tests --bindir build/tsan/bin --no-fuzz --only '$(TSAN_SUITES)'

demo: deps
	$(MAKE) all
	scripts/demo

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 $(CMDS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(MANS),install -m 0644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man1/)
	for f in completions/bash/*; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(PREFIX)/share/bash-completion/completions/; done; true
	for f in completions/zsh/_*; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(PREFIX)/share/zsh/site-functions/; done; true
	for f in completions/fish/*.fish; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/; done; true

clean:
	rm -rf build bin lib/libnexus.a $(MANS)

-include $(LIB_OBJ:.o=.d) $(wildcard $(OBJ)/cmd/*.d $(OBJ)/tests/*.d)
