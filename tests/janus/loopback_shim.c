/* Makes the loopback interface look like an ordinary one to Janus, which skips interfaces
 * flagged IFF_LOOPBACK when it gathers ICE candidates (and then ignores ice_enforce_list = "lo").
 * Loaded with LD_PRELOAD by the tests only; build: cc -shared -fPIC -o shim.so loopback_shim.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>

int getifaddrs(struct ifaddrs **ifap) {
	static int (*real)(struct ifaddrs **);
	if (!real)
		real = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
	int r = real(ifap);
	if (r == 0)
		for (struct ifaddrs *i = *ifap; i; i = i->ifa_next)
			i->ifa_flags &= ~IFF_LOOPBACK;
	return r;
}
