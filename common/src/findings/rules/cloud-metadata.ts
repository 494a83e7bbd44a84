/** cloud-metadata: reaches (or names) a cloud instance-metadata endpoint. */
import { fmtNet, grouped, ref, type Rule } from '../rule-kit.js';

/** Instance-metadata addresses: AWS/GCP/Azure/OpenStack, AWS IPv6, ECS task metadata, Alibaba. */
export const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254', '169.254.170.2', '100.100.100.200', '::ffff:169.254.169.254']);
/** Instance-metadata names. */
export const METADATA_NAMES = /^(metadata\.google\.internal|metadata|instance-data(\.ec2\.internal)?|metadata\.azure\.com)\.?$/i;
const IN_TEXT = /169\.254\.169\.254|fd00:ec2::254|169\.254\.170\.2|metadata\.google\.internal|100\.100\.100\.200/i;

export const cloudMetadataRule: Rule = {
  id: 'cloud-metadata',
  description: 'connects to, looks up or passes on the command line a cloud metadata endpoint (169.254.169.254, fd00:ec2::254, metadata.google.internal)',
  severity: 'high',
  technique: 'cloud credential theft from the instance-metadata service (IAM role keys at /latest/meta-data/iam/security-credentials/), as in the 2022 "loglib-modules" and CI-targeting samples',
  run(events, phase) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind === 'net' && (e.family === 'inet' || e.family === 'inet6') && METADATA_ADDRESSES.has(e.address)) {
        return [{ key: e.address, severity: 'high' as const, title: `${phase} reaches the cloud metadata service ${e.address}`, ev: ref(e, phase, fmtNet(e)) }];
      }
      if (e.kind === 'net' && e.dns && METADATA_NAMES.test(e.dns.name)) {
        return [{ key: e.dns.name, severity: 'high' as const, title: `${phase} looks up the cloud metadata name ${e.dns.name}`, ev: ref(e, phase, `DNS ${e.dns.type} ${e.dns.name}`) }];
      }
      if (e.kind === 'exec' && e.argv.some((a) => IN_TEXT.test(a))) {
        return [{ key: 'argv', severity: 'high' as const, title: `${phase} runs a program aimed at the cloud metadata service`, ev: ref(e, phase, `exec ${e.path} [${e.argv.join(' ').slice(0, 300)}]`) }];
      }
      return [];
    }));
  },
};
