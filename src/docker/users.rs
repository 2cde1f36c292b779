//! User checks: may an image's user (or its `ONBUILD` users, or the assemble user) run?
//!
//! Uses config, user (the UID ranges and the parsing of users) and error; the image's users are
//! read through the [`Docker`] trait, so the checks run over any implementation.

use crate::config::Config;
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::user::{extract_on_build_users, extract_user, is_user_allowed, RangeList};

/// Checks that an image runs as an allowed user (the reference's `CheckAllowedUser` of S2I
/// 1.1.7, four arguments): the same as [`check_allowed_user_with_assemble_user`] with no
/// assemble user configured.
///
/// # Errors
/// See [`check_allowed_user_with_assemble_user`].
///
/// # Example
/// ```
/// # #[cfg(feature = "fake")] {
/// use s2i_docker::fake::FakeDocker;
/// use s2i_docker::check_allowed_user;
///
/// let fake = FakeDocker { get_image_user_result: "1001".into(), ..Default::default() };
/// let allowed = s2i_docker::user::parse_range_list("1000-2000")?;
/// check_allowed_user(&fake, "builder", &allowed, false)?;
/// # }
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn check_allowed_user(
    d: &dyn Docker,
    image_name: &str,
    uids: &RangeList,
    is_onbuild: bool,
) -> Result<()> {
    check_allowed_user_with_assemble_user(d, image_name, uids, is_onbuild, "")
}

/// Checks that an image runs as an allowed user (the reference's `CheckAllowedUser`).
///
/// With an empty `uids` everything is allowed and nothing is asked. Otherwise, in order:
///
/// 1. with `is_onbuild`, every `ONBUILD USER` trigger's user must be allowed;
/// 2. a non-empty `assemble_user` (the build's configuration) must be allowed, and then the
///    image's own users are not checked;
/// 3. else the image's `io.openshift.s2i.assemble-user` label, when set, must be allowed;
/// 4. else the image's `USER` must be allowed.
///
/// Users are allowed when they are numeric and in `uids`; a `:group` part is ignored (also in
/// `assemble_user`, where the reference compared it whole and so refused `1001:0`).
///
/// # Errors
/// `UserNotAllowedError` or `AssembleUserNotAllowedError` (code 15) naming what failed, or the
/// error of reading the image's metadata.
///
/// # Example
/// ```
/// # #[cfg(feature = "fake")] {
/// use s2i_docker::fake::FakeDocker;
/// use s2i_docker::check_allowed_user_with_assemble_user;
///
/// let builder = FakeDocker { get_image_user_result: "root".into(), ..Default::default() };
/// let allowed = s2i_docker::user::parse_range_list("1000-")?;
/// // The configured assemble user replaces the image's `root`...
/// check_allowed_user_with_assemble_user(&builder, "builder", &allowed, false, "1001:0")?;
/// // ...and must be allowed itself.
/// let e = check_allowed_user_with_assemble_user(&builder, "builder", &allowed, false, "0")
///     .unwrap_err();
/// assert_eq!(e.to_string(), "assemble user must be numeric and within the range of allowed users");
/// # }
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn check_allowed_user_with_assemble_user(
    d: &dyn Docker,
    image_name: &str,
    uids: &RangeList,
    is_onbuild: bool,
    assemble_user: &str,
) -> Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    if is_onbuild {
        let triggers = d.get_on_build(image_name)?;
        for user in extract_on_build_users(&triggers) {
            if !is_user_allowed(&user, uids) {
                return Err(Error::user_not_allowed(image_name, true));
            }
        }
    }
    if !assemble_user.is_empty() {
        if !is_user_allowed(&extract_user(assemble_user), uids) {
            return Err(Error::assemble_user_not_allowed(image_name, true));
        }
        return Ok(());
    }
    let labels = d.get_labels(image_name)?;
    if let Some(label) = labels
        .get(crate::docker::labels::ASSEMBLE_USER_LABEL)
        .filter(|l| !l.is_empty())
    {
        if !is_user_allowed(&extract_user(label), uids) {
            return Err(Error::assemble_user_not_allowed(image_name, false));
        }
        return Ok(());
    }
    let user = extract_user(&d.get_image_user(image_name)?);
    if !is_user_allowed(&user, uids) {
        return Err(Error::user_not_allowed(image_name, false));
    }
    Ok(())
}

/// The user that runs `assemble` (the reference's `GetAssembleUser`): the build's
/// `assemble_user`, else the builder image's `io.openshift.s2i.assemble-user` label, else the
/// image's `USER`; returned as written (`user:group` kept).
///
/// # Errors
/// The error of [`Docker::get_image_user`] (an error reading the labels is not one: the image
/// user is tried next).
///
/// # Example
/// ```
/// # #[cfg(feature = "fake")] {
/// use s2i_docker::fake::FakeDocker;
/// use s2i_docker::{get_assemble_user, Config};
///
/// let mut builder = FakeDocker { get_image_user_result: "1001:0".into(), ..Default::default() };
/// let config = Config { builder_image: "builder".into(), ..Default::default() };
/// assert_eq!(get_assemble_user(&builder, &config)?, "1001:0");
/// builder.labels.insert("io.openshift.s2i.assemble-user".into(), "1002".into());
/// assert_eq!(get_assemble_user(&builder, &config)?, "1002");
/// # }
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn get_assemble_user(docker: &dyn Docker, config: &Config) -> Result<String> {
    if !config.assemble_user.is_empty() {
        return Ok(config.assemble_user.clone());
    }
    if let Ok(labels) = docker.get_labels(&config.builder_image) {
        if let Some(user) = labels
            .get(crate::docker::labels::ASSEMBLE_USER_LABEL)
            .filter(|u| !u.is_empty())
        {
            return Ok(user.clone());
        }
    }
    docker.get_image_user(&config.builder_image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeDocker;
    use crate::user::parse_range_list;
    use crate::ErrorCode;

    fn allowed() -> RangeList {
        parse_range_list("1000-2000").unwrap()
    }

    fn user(u: &str) -> FakeDocker {
        FakeDocker {
            get_image_user_result: u.into(),
            ..Default::default()
        }
    }

    #[test]
    fn empty_ranges_allow_everything_without_asking() {
        let fake = user("root");
        check_allowed_user(&fake, "img", &RangeList::default(), true).unwrap();
        assert_eq!(fake.get_image_user_image.get(), "");
        assert_eq!(fake.on_build_image.get(), "");
    }

    #[test]
    fn image_user() {
        check_allowed_user(&user("1001"), "img", &allowed(), false).unwrap();
        check_allowed_user(&user("1001:0"), "img", &allowed(), false).unwrap();
        for bad in ["root", "", "999", "1001a"] {
            let e = check_allowed_user(&user(bad), "img", &allowed(), false).unwrap_err();
            assert_eq!(
                e.to_string(),
                "image \"img\" must specify a user that is numeric and within the range of allowed users"
            );
            assert_eq!(e.code(), Some(ErrorCode::UserNotAllowed));
        }
        let fake = FakeDocker {
            get_image_user_error: Some(crate::Error::other("inspect failed")),
            ..Default::default()
        };
        let e = check_allowed_user(&fake, "img", &allowed(), false).unwrap_err();
        assert_eq!(e.to_string(), "inspect failed");
    }

    #[test]
    fn onbuild_users() {
        let fake = FakeDocker {
            on_build_result: vec!["RUN x".into(), "USER 500".into()],
            get_image_user_result: "1001".into(),
            ..Default::default()
        };
        let e = check_allowed_user(&fake, "img", &allowed(), true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "image \"img\" includes at least one ONBUILD instruction that sets the user to a user that is not allowed"
        );
        assert_eq!(fake.on_build_image.get(), "img");
        // Not an ONBUILD image: the triggers are not read.
        check_allowed_user(&fake, "img", &allowed(), false).unwrap();
        // `USER` without an argument is not allowed, and does not crash (decision 11).
        let bare = FakeDocker {
            on_build_result: vec!["USER".into()],
            get_image_user_result: "1001".into(),
            ..Default::default()
        };
        assert!(check_allowed_user(&bare, "img", &allowed(), true).is_err());
        let ok = FakeDocker {
            on_build_result: vec!["USER 1500:0".into()],
            get_image_user_result: "1001".into(),
            ..Default::default()
        };
        check_allowed_user(&ok, "img", &allowed(), true).unwrap();
    }

    #[test]
    fn assemble_user_from_the_configuration() {
        let root = user("root");
        // The image user is not checked when an assemble user is configured.
        check_allowed_user_with_assemble_user(&root, "img", &allowed(), false, "1001").unwrap();
        assert_eq!(root.get_image_user_image.get(), "");
        // Its group is ignored (decision 10).
        check_allowed_user_with_assemble_user(&root, "img", &allowed(), false, "1001:0").unwrap();
        let e = check_allowed_user_with_assemble_user(&root, "img", &allowed(), false, "root")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "assemble user must be numeric and within the range of allowed users"
        );
        assert_eq!(
            e.suggestion(),
            Some("build without the allowed UIDs or assemble user configurations set")
        );
    }

    #[test]
    fn assemble_user_label() {
        let mut fake = user("root");
        fake.labels.insert(
            crate::docker::labels::ASSEMBLE_USER_LABEL.into(),
            "1001:0".into(),
        );
        check_allowed_user(&fake, "img", &allowed(), false).unwrap();
        fake.labels.insert(
            crate::docker::labels::ASSEMBLE_USER_LABEL.into(),
            "0".into(),
        );
        let e = check_allowed_user(&fake, "img", &allowed(), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "image \"img\" includes the \"io.openshift.s2i.assemble-user\" label whose value is not within the allowed range"
        );
        fake.labels_error = Some(crate::Error::other("labels failed"));
        let e = check_allowed_user(&fake, "img", &allowed(), false).unwrap_err();
        assert_eq!(e.to_string(), "labels failed");
    }

    #[test]
    fn the_assemble_user() {
        let mut fake = user("1001:0");
        let mut config = Config {
            builder_image: "b".into(),
            assemble_user: "42".into(),
            ..Default::default()
        };
        assert_eq!(get_assemble_user(&fake, &config).unwrap(), "42");
        config.assemble_user.clear();
        assert_eq!(get_assemble_user(&fake, &config).unwrap(), "1001:0");
        assert_eq!(fake.get_image_user_image.get(), "b");
        fake.labels.insert(
            crate::docker::labels::ASSEMBLE_USER_LABEL.into(),
            "7".into(),
        );
        assert_eq!(get_assemble_user(&fake, &config).unwrap(), "7");
        // A label error is not fatal: the image user is next.
        fake.labels_error = Some(crate::Error::other("x"));
        assert_eq!(get_assemble_user(&fake, &config).unwrap(), "1001:0");
        fake.get_image_user_error = Some(crate::Error::other("inspect failed"));
        assert!(get_assemble_user(&fake, &config).is_err());
    }
}
