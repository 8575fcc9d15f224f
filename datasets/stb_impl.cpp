// The one translation unit that compiles stb_image and stb_image_resize (header-only libraries
// from Debian's libstb-dev). Only the JPEG and PNG decoders are built: the formats imagefolder
// accepts, and less untrusted-input code.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>
