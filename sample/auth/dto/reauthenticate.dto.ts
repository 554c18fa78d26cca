import { IsGivenPassword } from '../../common/validation.js';

export class ReauthenticateDto {
  @IsGivenPassword()
  password: string;
}
