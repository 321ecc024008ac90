/** Every entry lands under this folder of the staging area; the manifest sits beside the files. */
export const ARCHIVE_ROOT = "files";
