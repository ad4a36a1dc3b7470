//! Who is asking: the logged-in person, as `users.json` says now, and what their role
//! may do.

use crate::access::{Role, User};

/// The logged-in person, as `users.json` says now (a removed user is logged out, a
/// changed role applies at once). Pages without one redirect to `/login`.
pub struct Viewer {
    pub user: User,
    pub csrf: String,
    /// What auditors and admins must be told on every page (`health::alerts`): a
    /// mirror or a witness failing for longer than three checkpoint periods.
    pub alerts: Vec<String>,
    /// The curator code this login records as (`user add --curator`), if any.
    pub curator: Option<String>,
}

impl Viewer {
    pub fn may_record(&self) -> bool {
        matches!(self.user.role, Role::Recorder | Role::Admin)
    }
    /// The trail of who recorded what, and the chain check (SPEC §12's auditor, admin).
    pub fn may_audit(&self) -> bool {
        matches!(self.user.role, Role::Auditor | Role::Admin)
    }
    pub fn may_see_figures(&self) -> bool {
        matches!(self.user.role, Role::Analyst | Role::Auditor | Role::Admin)
    }
    /// Publishing a report (SPEC §19): analysts and administrators; auditors read and
    /// verify.
    pub fn may_publish(&self) -> bool {
        matches!(self.user.role, Role::Analyst | Role::Admin)
    }
}
