declare module 'node-gyp-build' {
  /** Loads the addon built (or prebuilt) for the package rooted at `dir`. */
  function load(dir: string): unknown;
  export default load;
}
