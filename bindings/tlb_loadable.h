/*
** tlb_loadable.h -- lets torchlet/core.so, loaded into a Lua VM other than
** the one it was built for, refuse with a message that names both VMs
** (luaopen_torchlet_core, module.c) instead of the dynamic linker's
** "undefined symbol: lua_rawgetp".
**
** Lua loads C modules with dlopen(RTLD_NOW), which fails on the first
** undefined strong symbol, before luaopen can run.  So the loadable module
** (TLB_LOADABLE_MODULE, set by premake5.lua and the rockspec) references
** every Lua API function it calls weakly: one the running VM lacks resolves
** to NULL, and luaopen checks the VM before calling any but luaL_error,
** which every VM has with the same signature.  The static library C hosts
** link (tlbind) keeps strong references: a weak one would not pull the
** function out of a static liblua.
**
** A call to a Lua API function missing from this list is a strong
** reference again: spec/vm_mismatch_spec.lua loads each VM's module into
** each other VM and fails on the linker's message.
*/
#ifndef TORCHLET_TLB_LOADABLE_H
#define TORCHLET_TLB_LOADABLE_H

#ifdef TLB_LOADABLE_MODULE

/* Markers of the running VM (module.c), under names of our own because
** each is declared by another VM's header, or by none, or is a macro:
** luaJIT_setmode only in LuaJIT, lua_newuserdatauv only in 5.4, lua_rotate
** from 5.3 on, lua_objlen only in 5.1 and LuaJIT.  Only their addresses are
** read; the types are the VMs' own, so link-time optimization sees one
** declaration. */
extern int tlb_vm_luajit(lua_State *L, int idx, int mode)
    __asm__("luaJIT_setmode") __attribute__((weak));
extern void *tlb_vm_54(lua_State *L, size_t size, int nuvalue)
    __asm__("lua_newuserdatauv") __attribute__((weak));
extern void tlb_vm_53(lua_State *L, int idx, int n)
    __asm__("lua_rotate") __attribute__((weak));
extern size_t tlb_vm_51(lua_State *L, int idx)
    __asm__("lua_objlen") __attribute__((weak));

#pragma weak luaL_addstring
#pragma weak luaL_addvalue
#pragma weak luaL_argerror
#pragma weak luaL_buffinit
#pragma weak luaL_callmeta
#pragma weak luaL_checkstack
#pragma weak luaL_checktype
#pragma weak luaL_getmetafield
#pragma weak luaL_newmetatable
#pragma weak luaL_prepbuffer
#pragma weak luaL_prepbuffsize
#pragma weak luaL_pushresult
#pragma weak luaL_setmetatable
#pragma weak luaL_testudata
#pragma weak luaL_tolstring
#pragma weak luaL_typeerror
#pragma weak lua_absindex
#pragma weak lua_call
#pragma weak lua_callk
#pragma weak lua_concat
#pragma weak lua_copy
#pragma weak lua_createtable
#pragma weak lua_error
#pragma weak lua_gc
#pragma weak lua_getfield
#pragma weak lua_getinfo
#pragma weak lua_getmetatable
#pragma weak lua_getstack
#pragma weak lua_gettop
#pragma weak lua_insert
#pragma weak lua_isnumber
#pragma weak lua_isstring
#pragma weak lua_newuserdata
#pragma weak lua_newuserdatauv
#pragma weak lua_next
#pragma weak lua_objlen
#pragma weak lua_pcall
#pragma weak lua_pcallk
#pragma weak lua_pushboolean
#pragma weak lua_pushcclosure
#pragma weak lua_pushfstring
#pragma weak lua_pushinteger
#pragma weak lua_pushlightuserdata
#pragma weak lua_pushlstring
#pragma weak lua_pushnil
#pragma weak lua_pushnumber
#pragma weak lua_pushstring
#pragma weak lua_pushvalue
#pragma weak lua_pushvfstring
#pragma weak lua_rawequal
#pragma weak lua_rawget
#pragma weak lua_rawgeti
#pragma weak lua_rawgetp
#pragma weak lua_rawlen
#pragma weak lua_rawset
#pragma weak lua_rawseti
#pragma weak lua_rawsetp
#pragma weak lua_remove
#pragma weak lua_replace
#pragma weak lua_rotate
#pragma weak lua_setfield
#pragma weak lua_setmetatable
#pragma weak lua_settop
#pragma weak lua_toboolean
#pragma weak lua_tointeger
#pragma weak lua_tointegerx
#pragma weak lua_tolstring
#pragma weak lua_tonumber
#pragma weak lua_tonumberx
#pragma weak lua_topointer
#pragma weak lua_touserdata
#pragma weak lua_type
#pragma weak lua_typename

#endif /* TLB_LOADABLE_MODULE */

#endif
