// Mesa's lavapipe (Vulkan on the CPU) dressed as SwiftShader, so that headless Chromium runs WebGPU on it.
//
// Chromium gives a page a Vulkan adapter only if Dawn can import external images into it (lavapipe here has no
// external semaphore fd) or if it is SwiftShader (a CPU adapter with vendor 0x1AE0 and device 0xC0DE), which it
// serves by copying. It loads SwiftShader as libvk_swiftshader.so from the browser's own folder: test/browser/
// chromium.ts builds this file under that name into a folder that mirrors the browser's, and this library passes
// every Vulkan call to lavapipe, changing only the two ids in the physical device's properties.
// Build: cc -shared -fPIC -O2 -DLAVAPIPE='"/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"' -o libvk_swiftshader.so
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifndef LAVAPIPE
#define LAVAPIPE "libvulkan_lvp.so"
#endif

typedef void (*Fn)(void);
typedef Fn (*GetProcAddr)(void *instance, const char *name);

static void *lavapipe;
static GetProcAddr lvp_instance_proc, lvp_physical_device_proc;
static void (*lvp_properties)(void *physical_device, uint8_t *properties);
static void (*lvp_properties2)(void *physical_device, uint8_t *properties2);

static int load(void) {
  if (lavapipe) return 1;
  lavapipe = dlopen(LAVAPIPE, RTLD_NOW | RTLD_LOCAL);
  if (!lavapipe) {
    fprintf(stderr, "lavapipe-shim: cannot load %s: %s\n", LAVAPIPE, dlerror());
    return 0;
  }
  lvp_instance_proc = (GetProcAddr)dlsym(lavapipe, "vk_icdGetInstanceProcAddr");
  lvp_physical_device_proc = (GetProcAddr)dlsym(lavapipe, "vk_icdGetPhysicalDeviceProcAddr");
  return lvp_instance_proc != 0;
}

// VkPhysicalDeviceProperties: apiVersion, driverVersion, vendorID, deviceID, ... (uint32 each);
// VkPhysicalDeviceProperties2: sType, pNext, then those properties at byte 16.
static void as_swiftshader(uint8_t *properties) {
  *(uint32_t *)(properties + 8) = 0x1AE0;
  *(uint32_t *)(properties + 12) = 0xC0DE;
}
static void properties(void *pd, uint8_t *p) {
  lvp_properties(pd, p);
  as_swiftshader(p);
}
static void properties2(void *pd, uint8_t *p) {
  lvp_properties2(pd, p);
  as_swiftshader(p + 16);
}

static Fn wrap(const char *name, Fn f) {
  if (!f) return f;
  if (!strcmp(name, "vkGetPhysicalDeviceProperties")) {
    lvp_properties = (void (*)(void *, uint8_t *))f;
    return (Fn)properties;
  }
  if (!strcmp(name, "vkGetPhysicalDeviceProperties2") || !strcmp(name, "vkGetPhysicalDeviceProperties2KHR")) {
    lvp_properties2 = (void (*)(void *, uint8_t *))f;
    return (Fn)properties2;
  }
  return f;
}

Fn vkGetInstanceProcAddr(void *instance, const char *name) {
  if (!load()) return 0;
  if (!strcmp(name, "vkGetInstanceProcAddr")) return (Fn)vkGetInstanceProcAddr;
  return wrap(name, lvp_instance_proc(instance, name));
}

// The entry points of a Vulkan driver, for a caller that goes through the Vulkan loader.
Fn vk_icdGetInstanceProcAddr(void *instance, const char *name) { return vkGetInstanceProcAddr(instance, name); }
Fn vk_icdGetPhysicalDeviceProcAddr(void *instance, const char *name) {
  if (!load() || !lvp_physical_device_proc) return 0;
  return wrap(name, lvp_physical_device_proc(instance, name));
}
int vk_icdNegotiateLoaderICDInterfaceVersion(uint32_t *version) {
  if (!load()) return -3; // VK_ERROR_INITIALIZATION_FAILED
  int (*negotiate)(uint32_t *) = (int (*)(uint32_t *))dlsym(lavapipe, "vk_icdNegotiateLoaderICDInterfaceVersion");
  return negotiate ? negotiate(version) : 0;
}
