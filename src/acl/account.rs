//! An ACL account in the shape of Apache RocketMQ's `plain_acl.yml` (the seed's "roles with AK/SK"), and how it
//! maps onto the users and ACL entries of a broker with authentication (RocketMQ 5.3 "auth v2", which
//! rocketmq-broker 1.0.0 implements): the AccessKey is the user name, the SecretKey its password, `admin` makes it
//! a super user, and each topic and group permission becomes an ACL entry of subject `User:<accessKey>`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{MigrationError, ToolErrorKind};

/// One account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// AccessKey (the user name on an auth-v2 broker).
    pub access_key: String,
    /// SecretKey. `None` in an export made without secrets (such an account cannot be imported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// Addresses the account may connect from (`192.168.1.*`, `10.0.0.1,10.0.0.2`); `None`: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub white_remote_address: Option<String>,
    /// Administrator (a super user: every permission).
    #[serde(default)]
    pub admin: bool,
    /// Permission on topics not listed: `DENY`, `PUB`, `SUB` or `PUB|SUB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_topic_perm: Option<String>,
    /// Permission on groups not listed: `DENY` or `SUB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_group_perm: Option<String>,
    /// `topic=PERM` per topic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topic_perms: Vec<String>,
    /// `group=PERM` per group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_perms: Vec<String>,
}

/// A set of accounts: a `plain_acl.yml` file, or what `acl export` writes (the same keys, as JSON or YAML).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AclFile {
    /// Addresses every account may connect from (kept for reference; an auth-v2 broker has no global list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_white_remote_addresses: Vec<String>,
    /// The accounts.
    #[serde(default)]
    pub accounts: Vec<Account>,
}

/// One ACL entry of an auth-v2 broker: resources, actions, allow or deny, source addresses.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) resource: String,
    pub(crate) actions: Vec<String>,
    pub(crate) decision: String,
    pub(crate) source_ips: Vec<String>,
}

impl AclFile {
    /// Parse `plain_acl.yml` or an export (YAML is a superset of JSON, so both read the same way). Every
    /// account is checked; `source` names the file in errors.
    pub fn parse(text: &str, source: &str) -> Result<AclFile, MigrationError> {
        let file: AclFile = serde_yaml::from_str(text).map_err(|e| {
            MigrationError::new(
                ToolErrorKind::Metadata,
                None,
                format!("{source}: not an ACL file (accounts with accessKey, secretKey, ...): {e}"),
            )
        })?;
        let mut problems = Vec::new();
        for (i, a) in file.accounts.iter().enumerate() {
            let item = format!("accounts[{i}] ({:?})", a.access_key);
            if a.access_key.trim().is_empty() {
                problems.push(format!("{item}.accessKey: must not be empty"));
            }
            for (field, perm) in [
                ("defaultTopicPerm", &a.default_topic_perm),
                ("defaultGroupPerm", &a.default_group_perm),
            ] {
                if let Some(p) = perm {
                    if actions(p).is_none() {
                        problems.push(format!(
                            "{item}.{field} = {p:?}: must be DENY, PUB, SUB or PUB|SUB"
                        ));
                    }
                }
            }
            for (field, list) in [
                ("topicPerms", &a.topic_perms),
                ("groupPerms", &a.group_perms),
            ] {
                for p in list {
                    match p.split_once('=') {
                        Some((name, perm))
                            if !name.trim().is_empty() && actions(perm).is_some() => {}
                        _ => problems.push(format!(
                            "{item}.{field}: {p:?} must be name=DENY|PUB|SUB|PUB|SUB"
                        )),
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(file)
        } else {
            Err(MigrationError::new(
                ToolErrorKind::Metadata,
                None,
                format!(
                    "{source}: {} problem(s) (nothing was imported): {}",
                    problems.len(),
                    problems.join("; ")
                ),
            ))
        }
    }
}

/// `PUB|SUB` → (`["Pub", "Sub"]`, `Allow`); `DENY` → (`["Pub", "Sub"]`, `Deny`); `None` if unknown.
fn actions(perm: &str) -> Option<(Vec<String>, &'static str)> {
    let perm = perm.trim().to_ascii_uppercase();
    let mut out = Vec::new();
    for p in perm.split('|').map(str::trim) {
        match p {
            "PUB" => out.push("Pub".to_owned()),
            "SUB" => out.push("Sub".to_owned()),
            "DENY" => return Some((vec!["Pub".into(), "Sub".into()], "Deny")),
            _ => return None,
        }
    }
    (!out.is_empty()).then_some((out, "Allow"))
}

/// The permission text of an entry: (`["Pub","Sub"]`, `Allow`) → `PUB|SUB`; any `Deny` → `DENY`.
fn perm_of(actions: &[String], decision: &str) -> String {
    if decision.eq_ignore_ascii_case("deny") {
        return "DENY".into();
    }
    let has = |a: &str| {
        actions
            .iter()
            .any(|x| x.eq_ignore_ascii_case(a) || x == "All")
    };
    match (has("Pub"), has("Sub")) {
        (true, true) => "PUB|SUB".into(),
        (true, false) => "PUB".into(),
        _ => "SUB".into(),
    }
}

impl Account {
    /// The user type on an auth-v2 broker.
    pub(crate) fn user_type(&self) -> &'static str {
        if self.admin {
            "Super"
        } else {
            "Normal"
        }
    }

    /// The subject of its ACL entries.
    pub(crate) fn subject(&self) -> String {
        format!("User:{}", self.access_key)
    }

    /// Its ACL entries (none for an administrator: a super user passes every check).
    pub(crate) fn entries(&self) -> Vec<Entry> {
        if self.admin {
            return Vec::new();
        }
        let ips: Vec<String> = self
            .white_remote_address
            .iter()
            .flat_map(|w| w.split(','))
            .map(str::trim)
            .filter(|w| !w.is_empty() && *w != "*")
            .map(str::to_owned)
            .collect();
        let mut out = Vec::new();
        let mut push = |resource: String, perm: &str| {
            if let Some((actions, decision)) = actions(perm) {
                out.push(Entry {
                    resource,
                    actions,
                    decision: decision.to_owned(),
                    source_ips: ips.clone(),
                });
            }
        };
        if let Some(p) = &self.default_topic_perm {
            push("Topic:*".into(), p);
        }
        if let Some(p) = &self.default_group_perm {
            push("Group:*".into(), p);
        }
        for (kind, list) in [("Topic", &self.topic_perms), ("Group", &self.group_perms)] {
            for p in list {
                if let Some((name, perm)) = p.split_once('=') {
                    push(format!("{kind}:{}", name.trim()), perm);
                }
            }
        }
        out.sort();
        out
    }

    /// The account a broker's user and ACL entries describe. Entries on other resources than topics and groups
    /// are returned as text (an account cannot hold them).
    pub(crate) fn from_broker(
        username: &str,
        password: Option<String>,
        user_type: &str,
        entries: &[Entry],
    ) -> (Account, Vec<String>) {
        let mut a = Account {
            access_key: username.to_owned(),
            secret_key: password,
            admin: user_type.eq_ignore_ascii_case("super"),
            ..Default::default()
        };
        let mut other = Vec::new();
        let mut ips = BTreeMap::new();
        for e in entries {
            let perm = perm_of(&e.actions, &e.decision);
            for ip in &e.source_ips {
                ips.insert(ip.clone(), ());
            }
            match e.resource.split_once(':') {
                Some(("Topic", "*")) => a.default_topic_perm = Some(perm),
                Some(("Group", "*")) => a.default_group_perm = Some(perm),
                Some(("Topic", name)) => a.topic_perms.push(format!("{name}={perm}")),
                Some(("Group", name)) => a.group_perms.push(format!("{name}={perm}")),
                _ => other.push(format!(
                    "{} {} {:?} on {}",
                    a.subject(),
                    e.decision,
                    e.actions,
                    e.resource
                )),
            }
        }
        if !ips.is_empty() {
            a.white_remote_address = Some(ips.into_keys().collect::<Vec<_>>().join(","));
        }
        a.topic_perms.sort();
        a.group_perms.sort();
        (a, other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = r#"
globalWhiteRemoteAddresses:
  - 10.10.103.*
accounts:
  - accessKey: RocketMQ
    secretKey: "12345678"
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
      - groupC=SUB
  - accessKey: rocketmq2
    secretKey: "12345678"
    whiteRemoteAddress: 192.168.1.*
    admin: true
"#;

    #[test]
    fn a_plain_acl_file_maps_to_users_and_entries_and_back() {
        let f = AclFile::parse(PLAIN, "plain_acl.yml").unwrap();
        assert_eq!(f.accounts.len(), 2);
        let a = &f.accounts[0];
        let e = a.entries();
        assert_eq!(e.len(), 8);
        let b = e.iter().find(|e| e.resource == "Topic:topicB").unwrap();
        assert_eq!(
            (b.actions.clone(), b.decision.as_str()),
            (vec!["Pub".to_owned(), "Sub".to_owned()], "Allow")
        );
        let d = e.iter().find(|e| e.resource == "Topic:*").unwrap();
        assert_eq!(d.decision, "Deny");
        assert!(
            f.accounts[1].entries().is_empty(),
            "an admin is a super user"
        );
        assert_eq!(f.accounts[1].user_type(), "Super");
        let (back, other) = Account::from_broker("RocketMQ", Some("12345678".into()), "Normal", &e);
        assert!(other.is_empty());
        assert_eq!(
            back.topic_perms,
            vec!["topicA=DENY", "topicB=PUB|SUB", "topicC=SUB"]
        );
        assert_eq!(back.default_topic_perm.as_deref(), Some("DENY"));
        assert_eq!(back.default_group_perm.as_deref(), Some("SUB"));
        // JSON reads the same way.
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(AclFile::parse(&json, "acl.json").unwrap(), f);
    }

    #[test]
    fn bad_permissions_are_named() {
        let e = AclFile::parse(
            "accounts:\n  - accessKey: a\n    defaultTopicPerm: WRITE\n    topicPerms: [x]\n",
            "bad.yml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("defaultTopicPerm = \"WRITE\""), "{e}");
        assert!(e.contains("topicPerms: \"x\""), "{e}");
    }
}
