// The AWS SDK clients bundled into dist/cli.js (no chunks: the command is one file).
import * as ecr from '@aws-sdk/client-ecr'
import * as sts from '@aws-sdk/client-sts'
import * as ecrPublic from '@aws-sdk/client-ecr-public'
import * as sigstoreVerify from '@sigstore/verify'
import * as sigstoreBundle from '@sigstore/bundle'
import type { AwsSdk } from '../aws/sdk.js'

/** The signature gate's Sigstore modules, bundled too. */
export const bundledSigstore = async () => ({ verify: sigstoreVerify, bundle: sigstoreBundle })

export const bundledSdk: AwsSdk = {
  ecr: async () => ecr,
  sts: async () => sts,
  ecrPublic: async () => ecrPublic
}
