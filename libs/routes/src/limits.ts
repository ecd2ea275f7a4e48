/** Longest accepted path prefix (a hash field), in characters. */
export const MAX_PATH_PREFIX_LENGTH_CHARS = 1024;
/** Longest accepted host name, in characters (RFC 1035 section 2.3.4, textual form). */
export const MAX_HOST_LENGTH_CHARS = 253;
/** Longest accepted DNS label, in characters (RFC 1035 section 2.3.4). */
export const MAX_LABEL_LENGTH_CHARS = 63;
