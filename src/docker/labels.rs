//! The labels and environment variables by which a builder image describes itself to S2I, and the
//! defaults that apply when it says nothing. Plain constants: this file uses nothing.

/// Environment variable of an image that names its scripts URL (deprecated: use [`SCRIPTS_URL_LABEL`]).
pub const SCRIPTS_URL_ENVIRONMENT: &str = "STI_SCRIPTS_URL";

/// Environment variable of an image that names the sources' destination (deprecated: use [`DESTINATION_LABEL`]).
pub const LOCATION_ENVIRONMENT: &str = "STI_LOCATION";

/// Label of a builder image that says where its S2I scripts are, e.g. `image:///usr/libexec/s2i`.
pub const SCRIPTS_URL_LABEL: &str = "io.openshift.s2i.scripts-url";

/// Label of a builder image that says where the sources are extracted.
pub const DESTINATION_LABEL: &str = "io.openshift.s2i.destination";

/// Label of a builder image that lists the files `assemble` reads in an extended build.
pub const ASSEMBLE_INPUT_FILES_LABEL: &str = "io.openshift.s2i.assemble-input-files";

/// Label of a builder image that names the user running `assemble-runtime`.
pub const ASSEMBLE_RUNTIME_USER_LABEL: &str = "io.openshift.s2i.assemble-runtime-user";

/// Label of a builder image that names the user running `assemble`.
pub const ASSEMBLE_USER_LABEL: &str = "io.openshift.s2i.assemble-user";

/// Deprecated form of [`SCRIPTS_URL_LABEL`], still read.
pub const DEPRECATED_SCRIPTS_URL_LABEL: &str = "io.s2i.scripts-url";

/// Deprecated form of [`DESTINATION_LABEL`], still read.
pub const DEPRECATED_DESTINATION_LABEL: &str = "io.s2i.destination";

/// Where sources are extracted when nothing says otherwise.
pub const DEFAULT_DESTINATION: &str = "/tmp";
