//! ACL accounts (feature `admin`): read a cluster's accounts, or a `plain_acl.yml` file, and create them on a
//! target cluster with a dry run, a conflict policy and a result per account, as the seed's "add the roles used
//! for sending and receiving messages, and their AK/SK ... batch import" asks.
//!
//! What works against which broker: rocketmq-broker 1.0.0 implements the users and ACLs of RocketMQ 5.3
//! ("auth v2": request codes 3001–3010) and answers the 4.x plain-ACL admin calls (codes 50–52) as unsupported.
//! So export reads users and ACL entries through the auth-v2 admin API, and a 4.x source's accounts come from its
//! `plain_acl.yml`; import always writes users and ACL entries. Each master broker keeps its own users; both
//! directions use every master.

mod account;

use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{AuthAdmin, ClientRuntime, DefaultMQAdminExt};
use serde::{Deserialize, Serialize};

use account::Entry;
pub use account::{Account, AclFile};

use crate::admin::{describe, trouble_of, ClusterAdmin};
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::error::{MigrationError, ToolErrorKind};
use crate::metadata::{Action, Cause, ConflictPolicy};

/// One account's plan or result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountResult {
    /// The AccessKey.
    pub access_key: String,
    /// Create, update, unchanged, skip or fail.
    pub action: Action,
    /// The change was made (false in a dry run).
    pub applied: bool,
    /// For failed and skipped accounts: why, as a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Why, in words (never the secret).
    pub reason: String,
}

/// The result of [`import`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// Per account, in file order.
    pub accounts: Vec<AccountResult>,
}

impl AclReport {
    /// Accounts that failed.
    pub fn failed(&self) -> usize {
        self.accounts
            .iter()
            .filter(|a| a.action == Action::Fail)
            .count()
    }
}

fn admin_err(cluster: &ClusterConfig, what: String) -> MigrationError {
    MigrationError::new(
        ToolErrorKind::Admin,
        None,
        format!("{} {what}", cluster.name_server_addr),
    )
}

async fn masters(
    admin: &ClusterAdmin,
    cluster: &ClusterConfig,
) -> Result<(Arc<DefaultMQAdminExt>, Vec<(String, CheetahString)>), MigrationError> {
    let client = admin.client().await.map_err(|e| admin_err(cluster, e))?;
    let masters = admin
        .masters_of(&client, None)
        .await
        .map_err(|e| admin_err(cluster, e.text))?;
    Ok((client, masters))
}

/// A subject's ACL entries on the broker at `addr`.
async fn entries_of(
    client: &DefaultMQAdminExt,
    addr: &CheetahString,
    subject: &str,
) -> Result<Vec<Entry>, rocketmq_client_rust::ClientError> {
    let acls = AuthAdmin::list_acl(client, addr.clone(), subject.into(), "".into()).await?;
    let mut out = Vec::new();
    for acl in acls
        .iter()
        .filter(|a| a.subject.as_deref() == Some(subject))
    {
        for p in acl.policies.iter().flatten() {
            for e in p.entries.iter().flatten() {
                out.push(Entry {
                    resource: e.resource.as_deref().unwrap_or_default().to_owned(),
                    actions: e.actions.iter().flatten().map(|a| a.to_string()).collect(),
                    decision: e.decision.as_deref().unwrap_or("Allow").to_owned(),
                    source_ips: e
                        .source_ips
                        .iter()
                        .flatten()
                        .map(|a| a.to_string())
                        .collect(),
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Read the accounts of the cluster at `cluster` (its first master's users and ACL entries; a broker keeps its
/// own). Entries on resources an account cannot hold (clusters, namespaces) come back in the second list, in
/// words, so the caller can say what was left out.
pub async fn export(
    cluster: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
) -> Result<(AclFile, Vec<String>), MigrationError> {
    cluster.validate("cluster")?;
    let admin = ClusterAdmin::new(Cluster::Source, cluster.clone(), runtime);
    let result = async {
        let (client, masters) = masters(&admin, cluster).await?;
        let (broker, addr) = &masters[0];
        let fail = |what: &str, e: rocketmq_client_rust::ClientError| {
            admin_err(
                cluster,
                format!("{what} on {broker} ({addr}): {}", describe(&e)),
            )
        };
        let users = AuthAdmin::list_users(&*client, addr.clone(), "".into())
            .await
            .map_err(|e| fail("list users", e))?;
        let mut file = AclFile::default();
        let mut left_out = Vec::new();
        for u in users {
            let Some(name) = u.username.as_deref() else {
                continue;
            };
            let subject = format!("User:{name}");
            let entries = entries_of(&client, addr, &subject)
                .await
                .map_err(|e| fail("list ACL entries", e))?;
            let (account, other) = Account::from_broker(
                name,
                u.password.as_ref().map(|p| p.to_string()),
                u.user_type.as_deref().unwrap_or("Normal"),
                &entries,
            );
            left_out.extend(other);
            file.accounts.push(account);
        }
        Ok((file, left_out))
    }
    .await;
    admin.close().await;
    result
}

/// What one account needs on one broker.
enum Need {
    Create,
    Same,
    /// What differs, in words, and the entries the broker holds now (replaced on overwrite).
    Differs(Vec<String>, Vec<Entry>),
}

async fn need(
    client: &DefaultMQAdminExt,
    addr: &CheetahString,
    a: &Account,
) -> Result<Need, rocketmq_client_rust::ClientError> {
    let Some(user) =
        AuthAdmin::get_user(client, addr.clone(), a.access_key.as_str().into()).await?
    else {
        return Ok(Need::Create);
    };
    let mut diff = Vec::new();
    let have_type = user.user_type.as_deref().unwrap_or("Normal");
    if !have_type.eq_ignore_ascii_case(a.user_type()) {
        diff.push(format!("userType {have_type} -> {}", a.user_type()));
    }
    if let (Some(have), Some(want)) = (user.password.as_deref(), a.secret_key.as_deref()) {
        if have != want {
            diff.push("secretKey differs".into());
        }
    }
    let (have, want) = (entries_of(client, addr, &a.subject()).await?, a.entries());
    if have != want {
        diff.push(format!(
            "ACL entries differ ({} on the target, {} in the file)",
            have.len(),
            want.len()
        ));
    }
    Ok(if diff.is_empty() {
        Need::Same
    } else {
        Need::Differs(diff, have)
    })
}

/// Create `a`'s user and entries; or, with `replace` (the entries the broker holds now), update the user and
/// replace those entries.
async fn write(
    client: &DefaultMQAdminExt,
    addr: &CheetahString,
    a: &Account,
    replace: Option<Vec<Entry>>,
) -> Result<(), rocketmq_client_rust::ClientError> {
    let (name, secret) = (
        CheetahString::from(a.access_key.as_str()),
        CheetahString::from(a.secret_key.as_deref().unwrap_or_default()),
    );
    if let Some(existing) = replace {
        AuthAdmin::update_user(
            client,
            addr.clone(),
            name,
            secret,
            a.user_type().into(),
            "enable".into(),
        )
        .await?;
        for e in existing {
            AuthAdmin::delete_acl(client, addr.clone(), a.subject().into(), e.resource.into())
                .await?;
        }
    } else {
        AuthAdmin::create_user(client, addr.clone(), name, secret, a.user_type().into()).await?;
    }
    for e in a.entries() {
        AuthAdmin::create_acl(
            client,
            addr.clone(),
            a.subject().into(),
            vec![e.resource.into()],
            e.actions.into_iter().map(Into::into).collect(),
            e.source_ips.into_iter().map(Into::into).collect(),
            e.decision.into(),
        )
        .await?;
    }
    Ok(())
}

/// Create `file`'s accounts on every master of `target` (`apply == false`: plan only). An account that exists
/// with other settings is skipped (cause `conflict`) or overwritten, per `policy`. An account without a secret
/// fails. Re-running an import that succeeded reports every account `unchanged`.
pub async fn import(
    file: &AclFile,
    target: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    policy: ConflictPolicy,
    apply: bool,
) -> Result<AclReport, MigrationError> {
    target.validate("target")?;
    let admin = ClusterAdmin::new(Cluster::Target, target.clone(), runtime);
    let result = async {
        let (client, masters) = masters(&admin, target).await?;
        let mut accounts = Vec::new();
        for a in &file.accounts {
            let mut r = AccountResult {
                access_key: a.access_key.clone(),
                action: Action::Unchanged,
                applied: false,
                cause: None,
                reason: "on the target with the same user type, secret and ACL entries".into(),
            };
            if a.secret_key.is_none() {
                r.action = Action::Fail;
                r.cause = Some(Cause::MissingSecret);
                r.reason = "the file holds no secretKey (export with secrets to import it)".into();
                accounts.push(r);
                continue;
            }
            for (broker, addr) in &masters {
                let step = async {
                    match need(&client, addr, a).await? {
                        Need::Same => Ok(None),
                        Need::Create => {
                            if apply {
                                write(&client, addr, a, None).await?;
                            }
                            Ok(Some((Action::Create, "not on the target".to_owned())))
                        }
                        Need::Differs(diff, existing) => match policy {
                            ConflictPolicy::Skip => Ok(Some((
                                Action::Skip,
                                format!("{}; conflict policy skip", diff.join(", ")),
                            ))),
                            ConflictPolicy::Overwrite => {
                                if apply {
                                    write(&client, addr, a, Some(existing)).await?;
                                }
                                Ok(Some((
                                    Action::Update,
                                    format!("{}; conflict policy overwrite", diff.join(", ")),
                                )))
                            }
                        },
                    }
                };
                match step.await {
                    Ok(None) => {}
                    Ok(Some((action, why))) => {
                        // The strongest action over the masters is the account's.
                        if r.action == Action::Unchanged || action == Action::Skip {
                            r.action = action;
                        }
                        r.cause = (action == Action::Skip).then_some(Cause::Conflict);
                        r.reason = format!("{broker}: {why}");
                        r.applied = apply && action != Action::Skip;
                    }
                    Err(e) => {
                        r.action = Action::Fail;
                        r.cause = Some(trouble_of(&e).into());
                        r.applied = false;
                        r.reason = format!("{broker} ({addr}): {}", describe(&e));
                        break;
                    }
                }
            }
            accounts.push(r);
        }
        Ok(AclReport {
            dry_run: !apply,
            accounts,
        })
    }
    .await;
    admin.close().await;
    if let Ok(r) = &result {
        tracing::info!(target = %target.name_server_addr, dry_run = !apply, accounts = r.accounts.len(),
            failed = r.failed(), "ACL import");
    }
    result
}
