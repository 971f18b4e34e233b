//! Property tests for the wire decoders (the same bodies as the fuzz
//! targets, so CI exercises them on every run).

use portcullis_postgres::protocol::frame::write_frame;
use portcullis_postgres::protocol::startup::{self, StartupPacket};
use proptest::prelude::*;

fn feed(data: &[u8]) {
    portcullis_postgres::protocol::exercise_decoders(data);
}

/// Frames with plausible tags and arbitrary bodies.
fn frames() -> impl Strategy<Value = Vec<u8>> {
    let tag = prop::sample::select(b"QPBDECSHFXdcfp123nstTZIAVGW".to_vec());
    prop::collection::vec((tag, prop::collection::vec(any::<u8>(), 0..64)), 0..24).prop_map(|fs| {
        let mut out = Vec::new();
        for (t, body) in fs {
            write_frame(&mut out, t, |b| b.extend_from_slice(&body));
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoders_never_panic_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        feed(&data);
    }

    #[test]
    fn decoders_never_panic_on_well_framed_garbage(data in frames()) {
        feed(&data);
    }

    #[test]
    fn startup_packets_round_trip(params in prop::collection::vec(("[a-z_]{1,12}", "[ -~&&[^\\x00]]{0,20}"), 0..6)) {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let pkt = startup::encode_startup(&pairs);
        let n = startup::packet_len([pkt[0], pkt[1], pkt[2], pkt[3]]).unwrap();
        prop_assert_eq!(n, pkt.len());
        match startup::decode(&pkt[4..]).unwrap() {
            StartupPacket::Startup(s) => {
                let got: Vec<(String, String)> = s.params;
                let want: Vec<(String, String)> = params.clone();
                prop_assert_eq!(got, want);
            }
            other => prop_assert!(false, "decoded as {:?}", other),
        }
    }
}
