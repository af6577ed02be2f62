# install.mk -- the install and uninstall targets:
#
#   make -C build install PREFIX=/usr/local     (DESTDIR= too, for packagers)
#   make -C build uninstall PREFIX=/usr/local
#
# premake5.lua writes build/GNUmakefile, which GNU make reads before
# premake's Makefile: it includes that Makefile, sets what this build has
# (TL_VERSION, TL_REQUIRES, TL_VIZ_REQUIRES, TL_LUA_MODULES, TL_LUA_PROJECTS)
# and includes this file.  `install` builds the release configuration of what
# it installs first.  Without graphviz and cairo (premake --no-viz, or not
# found) the drawing library is the stand-in whose functions raise "built
# without them", and nothing installed needs graphviz or cairo.

PREFIX ?= /usr/local
ifneq ($(filter install uninstall,$(MAKECMDGOALS)),)
  ifneq ($(PREFIX),$(abspath $(PREFIX)))
    $(error PREFIX must be an absolute path, got '$(PREFIX)')
  endif
endif
TL_ROOT := ..
D := $(DESTDIR)$(PREFIX)
TL_HEADERS := $(wildcard $(TL_ROOT)/core/torchlet.h $(TL_ROOT)/core/tl_*.h) \
              $(TL_ROOT)/bindings/torchlet_lua.h
TL_LUA_FILES := $(shell cd $(TL_ROOT)/lua && find torchlet -name '*.lua' | sort)

.PHONY: install uninstall

# TL_LUA_MODULES: VERSION=built module for each Lua VM (5.1's serves LuaJIT
# too); each gets its module and the pure-Lua part.
# The pkg-config files: $(1) name, $(2) description, $(3) Requires, $(4) Libs.
# The libraries are static, so what they link goes in Libs and Requires
# (pkg-config reads Libs.private and Requires.private only with --static).
define tl_pc
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' \
	  'libdir=$${prefix}/lib' '' 'Name: $(1)' 'Description: $(2)' \
	  'Version: $(TL_VERSION)' 'Requires: $(3)' 'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} $(4)' >'$(D)/lib/pkgconfig/$(1).pc'
endef

install:
	$(MAKE) --no-print-directory -f Makefile config=release \
	  tlcore tlviz tlbind torchlet torchlet_core $(TL_LUA_PROJECTS)
	install -d '$(D)/bin' '$(D)/include/torchlet' '$(D)/lib/pkgconfig' \
	  '$(D)/share/doc/torchlet'
	install -m 644 $(TL_ROOT)/LICENSE '$(D)/share/doc/torchlet/LICENSE'
	install -m 755 bin/torchlet '$(D)/bin/torchlet'
	install -m 644 libtlcore.a '$(D)/lib/libtorchlet.a'
	install -m 644 libtlviz.a '$(D)/lib/libtorchlet_viz.a'
	install -m 644 libtlbind.a '$(D)/lib/libtorchlet_lua.a'
	install -m 644 $(TL_HEADERS) '$(D)/include/torchlet/'
	for m in $(TL_LUA_MODULES); do \
	  v=$${m%%=*}; \
	  install -D -m 755 "$${m#*=}" "$(D)/lib/lua/$$v/torchlet/core.so" || exit 1; \
	  for f in $(TL_LUA_FILES); do \
	    install -D -m 644 "$(TL_ROOT)/lua/$$f" "$(D)/share/lua/$$v/$$f" || exit 1; \
	  done; \
	done
	$(call tl_pc,torchlet,Reverse-mode automatic differentiation$(,) the C core,$(TL_REQUIRES),-ltorchlet -lm)
	$(call tl_pc,torchlet-viz,Torchlet drawing: graph views (graphviz$(,) cairo) and plots,torchlet = $(TL_VERSION) $(TL_VIZ_REQUIRES),-ltorchlet_viz)
	$(call tl_pc,torchlet-lua,The Torchlet Lua 5.4 module$(,) for C programs that run their own Lua VM,torchlet-viz = $(TL_VERSION)$(,) torchlet = $(TL_VERSION)$(,) lua5.4,-ltorchlet_lua)
	@echo "install: Torchlet $(TL_VERSION) under $(D)"

# The torchlet/ folders are ours whole.
uninstall:
	rm -f '$(D)/bin/torchlet' '$(D)/lib/libtorchlet.a' \
	  '$(D)/lib/libtorchlet_viz.a' '$(D)/lib/libtorchlet_lua.a' \
	  '$(D)/lib/pkgconfig/torchlet.pc' '$(D)/lib/pkgconfig/torchlet-viz.pc' \
	  '$(D)/lib/pkgconfig/torchlet-lua.pc'
	rm -rf '$(D)/include/torchlet' '$(D)/share/doc/torchlet'
	for v in 5.4 5.3 5.1; do \
	  rm -rf "$(D)/lib/lua/$$v/torchlet" "$(D)/share/lua/$$v/torchlet"; \
	done
	@echo "uninstall: Torchlet removed from $(D)"

, := ,
