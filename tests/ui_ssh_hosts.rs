//! The real window over the lab's SSH hosts: an unknown host key is asked about (fingerprint,
//! accept once, accept and save, reject), and a host that is slow or gone greys out only its
//! own branch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::TestContainer;
use common::hosts::{ProfileFile, env, lab_host_entry, ssh_entry};
use common::ui::{runtime, step_until};
use eframe::egui;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use quayside::App;

fn window(rt: &tokio::runtime::Runtime, profile: &ProfileFile) -> Harness<'static, App> {
    let handle = rt.handle().clone();
    let path = profile.path.clone();
    Harness::builder()
        .with_size(egui::vec2(1500.0, 900.0))
        .build_eframe(move |cc| {
            quayside::testing::app_for_profile(&handle, &cc.egui_ctx, &path).unwrap()
        })
}

/// A known_hosts file that holds nothing, for one test.
fn empty_known_hosts() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(common::unique_name("known_hosts"));
    std::fs::write(&path, "").unwrap();
    path
}

fn lab_host_with_known_hosts(name: &str, known_hosts: &std::path::Path) -> ProfileFile {
    let base: u16 = env("QS_SSH_BASE_PORT").parse().unwrap();
    ProfileFile::new(&ssh_entry(
        name,
        base,
        &env("QS_SSH_USER"),
        &env("QS_SSH_KEY"),
        known_hosts.to_str().unwrap(),
    ))
}

#[test]
fn an_unknown_host_key_is_asked_about_and_accept_and_save_connects_and_saves_it() {
    let known_hosts = empty_known_hosts();
    let profile = lab_host_with_known_hosts("fresh", &known_hosts);
    let c = TestContainer::sleeper("ui-trust");
    let rt = runtime();
    let mut h = window(&rt, &profile);

    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| h
            .query_by_label("Trust the host key of fresh?")
            .is_some()),
        "the window asks"
    );
    assert!(
        h.query_all_by_label_contains("SHA256:").next().is_some(),
        "it shows the fingerprint"
    );
    assert!(
        h.query_all_by_label_contains("not trusted:")
            .next()
            .is_some(),
        "the badge says why it waits"
    );
    h.get_by_role_and_label(Role::Button, "Accept and save")
        .click();

    assert!(
        step_until(&mut h, Duration::from_secs(30), |h| h
            .query_by_label_contains("online, Docker")
            .is_some()),
        "the host connects"
    );
    assert!(step_until(&mut h, Duration::from_secs(10), |h| h
        .query_all_by_label(&c.name)
        .next()
        .is_some()));
    let saved = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        saved.starts_with(&format!("[127.0.0.1]:{} ssh-", env("QS_SSH_BASE_PORT"))),
        "saved: {saved}"
    );
    std::fs::remove_file(&known_hosts).ok();
}

#[test]
fn a_rejected_host_key_keeps_the_host_disconnected() {
    let known_hosts = empty_known_hosts();
    let profile = lab_host_with_known_hosts("doubtful", &known_hosts);
    let rt = runtime();
    let mut h = window(&rt, &profile);
    assert!(step_until(&mut h, Duration::from_secs(20), |h| h
        .query_by_label("Trust the host key of doubtful?")
        .is_some()));
    h.get_by_role_and_label(Role::Button, "Reject").click();
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| h
            .query_by_label_contains("you rejected")
            .is_some()),
        "the badge says it was rejected"
    );
    std::thread::sleep(Duration::from_secs(2));
    h.step();
    assert!(
        h.query_by_label_contains("online, Docker").is_none(),
        "it does not connect"
    );
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        "",
        "nothing saved"
    );
    std::fs::remove_file(&known_hosts).ok();
}

#[test]
fn a_host_that_never_answers_does_not_hold_up_the_others() {
    // A listening socket that never speaks SSH: the connection hangs until its timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let text = format!(
        "{}{}",
        ssh_entry(
            "silent",
            port,
            "nobody",
            &env("QS_SSH_KEY"),
            &env("QS_SSH_KNOWN_HOSTS")
        ),
        lab_host_entry("lab-1", 1, &env("QS_SSH_USER"))
    );
    let profile = ProfileFile::new(&text);
    let c = TestContainer::sleeper("ui-silent");
    let rt = runtime();
    let mut h = window(&rt, &profile);
    assert!(
        step_until(&mut h, Duration::from_secs(5), |h| h
            .query_all_by_label(&c.name)
            .next()
            .is_some()),
        "lab-1 lists while the silent host is still connecting"
    );
    assert!(
        h.query_by_label_contains("connecting").is_some(),
        "the silent host is still connecting"
    );
    drop(silent);
}

/// Types `text` into the text field labelled `label`, replacing what it held.
fn type_into(h: &mut Harness<'static, App>, label: &str, text: &str) {
    type_into_field(h, Role::TextInput, label, text);
}

#[test]
fn a_host_added_in_the_hosts_window_is_saved_and_connected_on_apply() {
    let start = ProfileFile::new("[[host]]\nname = \"here\"\ndocker = \"local\"\n");
    let saved = std::env::temp_dir().join(format!("{}.toml", common::unique_name("saved-profile")));
    let c = TestContainer::sleeper("ui-editor");
    let rt = runtime();
    let mut h = window(&rt, &start);
    assert!(step_until(&mut h, Duration::from_secs(10), |h| h
        .query_by_label_contains("online, Docker")
        .is_some()));

    h.get_by_role_and_label(Role::Button, "Hosts…").click();
    assert!(step_until(&mut h, Duration::from_secs(5), |h| h
        .query_by_label("Add host…")
        .is_some()));
    h.get_by_label("Add host…").click();
    assert!(step_until(&mut h, Duration::from_secs(5), |h| h
        .query_by_label("Save host")
        .is_some()));
    type_into(&mut h, "Name", "lab-2");
    type_into(&mut h, "Address", "127.0.0.1");
    let port: u16 = env("QS_SSH_BASE_PORT").parse::<u16>().unwrap() + 1;
    type_into(&mut h, "Port", &port.to_string());
    type_into(&mut h, "User", &env("QS_SSH_USER"));
    type_into(&mut h, "Identity file", &env("QS_SSH_KEY"));
    type_into(&mut h, "Known hosts", &env("QS_SSH_KNOWN_HOSTS"));
    h.get_by_label("Save host").click();
    assert!(
        step_until(&mut h, Duration::from_secs(5), |h| h
            .query_by_label("Edit lab-2")
            .is_some()),
        "listed"
    );

    type_into(&mut h, "Profile file", saved.to_str().unwrap());
    h.get_by_role_and_label(Role::Button, "Save").click();
    step_until(&mut h, Duration::from_secs(5), |_| saved.exists());
    assert!(saved.exists(), "saved");
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(
        text.contains("name = \"lab-2\"") && text.contains(&format!("port = {port}")),
        "{text}"
    );

    h.get_by_role_and_label(Role::Button, "Apply").click();
    assert!(
        step_until(&mut h, Duration::from_secs(30), |h| h
            .query_all_by_label_contains("online, Docker")
            .count()
            == 2),
        "both hosts online after Apply"
    );
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| h
            .query_all_by_label(&c.name)
            .count()
            >= 2),
        "lab-2 lists too"
    );
    std::fs::remove_file(&saved).ok();
}

#[test]
fn a_key_with_a_passphrase_is_asked_for_and_unlocks_the_host() {
    let sshd = common::sshd::Sshd::start();
    let key = sshd.authorize_new_client_key("locked", Some("open sesame"));
    let known_hosts = sshd.trusted_known_hosts();
    let profile = ProfileFile::new(&ssh_entry(
        "locked",
        sshd.port,
        &env("QS_SSH_USER"),
        key.to_str().unwrap(),
        known_hosts.to_str().unwrap(),
    ));
    let rt = runtime();
    let mut h = window(&rt, &profile);
    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| h
            .query_by_label("Passphrase for locked")
            .is_some()),
        "the window asks for the passphrase"
    );
    type_into_field(&mut h, Role::PasswordInput, "Passphrase", "open sesame");
    h.get_by_role_and_label(Role::Button, "Unlock").click();
    assert!(
        step_until(&mut h, Duration::from_secs(30), |h| h
            .query_by_label_contains("online, Docker")
            .is_some()),
        "the key unlocks the host"
    );
    assert!(
        h.query_by_label("Passphrase for locked").is_none(),
        "the question is gone"
    );
}

/// Types `text` into the field of `role` labelled `label`, replacing what it held.
fn type_into_field(h: &mut Harness<'static, App>, role: Role, label: &str, text: &str) {
    h.get_by_role_and_label(role, label).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_role_and_label(role, label).type_text(text);
    h.step();
}

#[test]
fn a_host_whose_sshd_dies_goes_offline_alone_and_comes_back_when_it_returns() {
    let mut sshd = common::sshd::Sshd::start();
    let known_hosts = sshd.trusted_known_hosts();
    let text = format!(
        "{}{}",
        ssh_entry(
            "flaky",
            sshd.port,
            &env("QS_SSH_USER"),
            &env("QS_SSH_KEY"),
            known_hosts.to_str().unwrap()
        ),
        lab_host_entry("lab-1", 1, &env("QS_SSH_USER"))
    );
    let profile = ProfileFile::new(&text);
    let rt = runtime();
    let mut h = window(&rt, &profile);
    assert!(
        step_until(&mut h, Duration::from_secs(30), |h| h
            .query_all_by_label_contains("online, Docker")
            .count()
            == 2),
        "both hosts online"
    );

    sshd.kill_all();
    assert!(
        step_until(&mut h, Duration::from_secs(30), |h| h
            .query_by_label_contains("offline:")
            .is_some()),
        "the host whose sshd died goes offline"
    );
    assert_eq!(
        h.query_all_by_label_contains("online, Docker").count(),
        1,
        "the other stays online"
    );
    let c = TestContainer::sleeper("ui-flaky");
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| h
            .query_all_by_label(&c.name)
            .next()
            .is_some()),
        "the other host keeps listing"
    );

    sshd.restart();
    assert!(
        step_until(&mut h, Duration::from_secs(60), |h| h
            .query_all_by_label_contains("online, Docker")
            .count()
            == 2),
        "the host comes back by itself"
    );
}

#[test]
fn open_with_no_file_dialog_on_the_desktop_says_to_type_the_path() {
    // This machine has no desktop portal and no zenity: the dialog answers "nothing chosen"
    // within milliseconds, off the UI thread, and the window keeps drawing meanwhile.
    let start = ProfileFile::new("[[host]]\nname = \"here\"\ndocker = \"local\"\n");
    let rt = runtime();
    let mut h = window(&rt, &start);
    h.get_by_role_and_label(Role::Button, "Hosts…").click();
    assert!(step_until(&mut h, Duration::from_secs(5), |h| h
        .query_by_label("Open…")
        .is_some()));
    h.get_by_label("Open…").click();
    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| h
            .query_by_label_contains("type the path instead")
            .is_some()),
        "the window says no file was chosen and how to go on"
    );
}
