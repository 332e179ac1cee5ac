//! Plans for the upload direction (IFB and ingress redirect) and for clearing.

use super::tests::{IFINDEX, VETH, dir, plan, strings, up};
use super::*;

#[test]
fn upload_creates_the_ifb_the_redirect_and_the_ifb_tree() {
    let p = plan(&up(dir(512, 0.0)), &Observed::default());
    assert_eq!(
        p.link_steps,
        vec![
            strings(&["link", "add", "qs-ifb12", "type", "ifb"]),
            strings(&["link", "set", "qs-ifb12", "up"])
        ]
    );
    assert_eq!(
        p.tc_batch,
        strings(&[
            "qdisc add dev veth1a2b3c ingress",
            "filter add dev veth1a2b3c parent ffff: protocol all prio 1 u32 match u32 0 0 \
             action mirred egress redirect dev qs-ifb12",
            "qdisc add dev qs-ifb12 root handle 7173: htb default 1",
            "class add dev qs-ifb12 parent 7173: classid 7173:1 htb rate 512kbit ceil 512kbit \
             burst 1600 cburst 1600",
        ])
    );
}

#[test]
fn an_upload_change_keeps_the_redirect_and_replaces_the_ifb_tree() {
    let observed = Observed {
        upload: Some(dir(512, 0.0)),
        ingress_ours: true,
        ifb_present: true,
        ..Default::default()
    };
    let p = plan(&up(dir(256, 0.0)), &observed);
    assert!(p.link_steps.is_empty());
    assert_eq!(p.tc_batch[0], "qdisc del dev qs-ifb12 root");
    assert_eq!(p.tc_batch.len(), 3);
}

#[test]
fn a_redirect_to_a_vanished_ifb_is_renewed() {
    let observed = Observed {
        ingress_ours: true,
        ..Default::default()
    };
    let p = plan(&up(dir(256, 0.0)), &observed);
    assert_eq!(p.link_steps.len(), 2);
    assert_eq!(p.tc_batch[0], "qdisc del dev veth1a2b3c ingress");
    assert_eq!(p.tc_batch[1], "qdisc add dev veth1a2b3c ingress");
}

#[test]
fn an_unshaped_upload_removes_the_redirect_then_the_ifb() {
    let observed = Observed {
        upload: Some(dir(512, 0.0)),
        ingress_ours: true,
        ifb_present: true,
        ..Default::default()
    };
    let p = plan(&ShapingProfile::default(), &observed);
    assert_eq!(p.tc_batch, strings(&["qdisc del dev veth1a2b3c ingress"]));
    assert_eq!(p.cleanup_links, vec![strings(&["link", "del", "qs-ifb12"])]);
}

#[test]
fn a_foreign_ingress_is_refused_unless_replaced() {
    let observed = Observed {
        foreign_ingress: Some(ForeignQdisc {
            kind: "clsact".into(),
            handle: "ffff:".into(),
        }),
        ..Default::default()
    };
    let err = plan_apply(VETH, IFINDEX, &up(dir(512, 0.0)), &observed, false).unwrap_err();
    assert!(matches!(err, PlanError::ForeignIngress { ref kind, .. } if kind == "clsact"));
    let p = plan_apply(VETH, IFINDEX, &up(dir(512, 0.0)), &observed, true).unwrap();
    assert_eq!(p.tc_batch[0], "qdisc del dev veth1a2b3c ingress");
}

#[test]
fn another_root_on_our_ifb_is_replaced_without_asking() {
    let observed = Observed {
        ifb_present: true,
        ingress_ours: true,
        ifb_other_root: Some(ForeignQdisc {
            kind: "tbf".into(),
            handle: "1:".into(),
        }),
        ..Default::default()
    };
    let p = plan(&up(dir(512, 0.0)), &observed);
    assert_eq!(p.tc_batch[0], "qdisc del dev qs-ifb12 root");
}

/// K11: clearing a container with no shaping succeeds and says it was already clear.
#[test]
fn k11_clear_of_a_clean_veth_is_already_clear() {
    assert_eq!(
        clear_plan(VETH, IFINDEX, &Observed::default()),
        Ok(ClearPlan::AlreadyClear)
    );
    let foreign_only = Observed {
        foreign_root: Some(ForeignQdisc {
            kind: "tbf".into(),
            handle: "1:".into(),
        }),
        ..Default::default()
    };
    assert_eq!(
        clear_plan(VETH, IFINDEX, &foreign_only),
        Ok(ClearPlan::AlreadyClear)
    );
}

#[test]
fn clear_deletes_our_root_the_ingress_and_the_ifb_one_step_each() {
    let observed = Observed {
        download: Some(dir(1000, 0.0)),
        upload: Some(dir(512, 0.0)),
        ingress_ours: true,
        ifb_present: true,
        ..Default::default()
    };
    let Ok(ClearPlan::Steps(p)) = clear_plan(VETH, IFINDEX, &observed) else {
        panic!()
    };
    assert_eq!(
        render_commands(&p),
        strings(&[
            "tc qdisc del dev veth1a2b3c root",
            "tc qdisc del dev veth1a2b3c ingress",
            "ip link del qs-ifb12",
        ])
    );
}
