// The AWS SDK clients bundled into dist/cli.js (no chunks: the command is one file).
import * as ecr from '@aws-sdk/client-ecr'
import * as sts from '@aws-sdk/client-sts'
import * as ecrPublic from '@aws-sdk/client-ecr-public'
import type { AwsSdk } from '../aws/sdk.js'

export const bundledSdk: AwsSdk = {
  ecr: async () => ecr,
  sts: async () => sts,
  ecrPublic: async () => ecrPublic
}
